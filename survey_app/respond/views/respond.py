"""Respondents' pages: ``/r/<token>`` shows the current page, a POST saves it and moves on."""

from __future__ import annotations

import secrets
import time
from datetime import date
from typing import Any

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_wtf.csrf import CSRFError
from itsdangerous import BadSignature, URLSafeSerializer
from markupsafe import Markup
from sqlalchemy.exc import IntegrityError

from survey_app.core import db, security
from survey_app.core.errors import AppError
from survey_app.questionnaires.engine.presentation import page_view, progress
from survey_app.questionnaires.engine.runtime import Form
from survey_app.respond.services import responses
from survey_app.respond.services.quotas import QuotaFull
from survey_app.respond.services.responses import AlreadySubmitted, SurveyClosed, Visit

bp = Blueprint("respond", __name__, template_folder="../templates", url_prefix="/r")


COOKIE = "strata_resume"


# Respondents' forms carry a session-less CSRF token (see survey_app.core.security), checked in submit().
security.csrf.exempt(bp)


bp.after_request(security.set_browser_cookie)


def _language() -> str:
    locale = get_locale()
    return "zh_CN" if locale is not None and locale.language == "zh" else "en"


def _signer() -> URLSafeSerializer:
    signer: URLSafeSerializer | None = current_app.extensions.get("strata_resume_signer")
    if signer is None:
        signer = current_app.extensions["strata_resume_signer"] = URLSafeSerializer(current_app.config["SECRET_KEY"], salt="strata-resume")
    return signer


def _cookie_response_id() -> int | None:
    raw = request.cookies.get(COOKIE)
    if not raw:
        return None
    try:
        value = _signer().loads(raw)
    except BadSignature:
        return None
    return value if isinstance(value, int) else None


def _int_arg(raw: str | None) -> int | None:
    return int(raw) if raw is not None and raw.isdigit() and len(raw) < 6 else None


def _fragment(form: Form, key: tuple[Any, ...], template: str, **context: Any) -> Markup:
    """A part of a respondent page that depends only on ``key``, rendered once and kept with the form.

    Fragment caching: the form (a published version) never changes, so a part of its pages that
    depends on nothing but the page, the language and the project's labels is rendered once per
    process and reused for every respondent. The key names everything the fragment shows.
    """
    html: Markup | None = form.memo.get(key)
    if html is None:
        html = Markup(render_template(template, **context))
        if len(form.memo) < 256:
            form.memo[key] = html
    return html


def _render(visit: Visit, page: int, *, errors: dict[str, str] | None = None,
            raw: dict[str, list[str]] | None = None, status: int = 200) -> ResponseReturnValue:
    form = visit.form
    assert form is not None
    language, locale, project = _language(), str(get_locale()), visit.project
    answers = visit.response.answers if visit.response is not None else {}
    missing = visit.response.missing if visit.response is not None else {}
    view = page_view(form, page, answers, missing, language, errors, raw)
    position, total = progress(form, page, answers)
    previous = form.previous_page(page, answers) if visit.response is not None else None
    token = visit.invitation.token
    shown = tuple(q["name"] for q in view["questions"])
    # the questions (and the logic) are the same for every respondent while none shows an answer or an
    # error (and no earlier answer is passed to the browser)
    fresh = not any(q["value"] or q["error"] or any(c["checked"] for c in q["choices"]) for q in view["questions"])
    labels = tuple(getattr(project, name) for name in responses.PROJECT_COLUMNS)
    return render_template(
        "respond/page.html", visit=visit, project=project, page=view, position=position, total=total,
        title=form.text(form.definition["settings"]["title"], language) or project.title, previous=previous,
        questions_html=_fragment(form, ("html", "questions", page, language, locale, shown), "respond/_page_questions.html",
                                 page=view) if fresh else None,
        header_html=_fragment(form, ("html", "header", page, locale, labels), "respond/_header.html", project=project, page=view),
        footer_html=_fragment(form, ("html", "footer", locale), "respond/_footer.html"),
        logic_html=_fragment(form, ("html", "logic", page, language, locale), "respond/_logic.html", page=view)
        if not view["logic"]["values"] else None,
        submission_key=secrets.token_urlsafe(24), shown_at=f"{time.time():.3f}",
        csrf_token=lambda: security.respondent_csrf_token(token)), status


def _closed(visit: Visit) -> ResponseReturnValue:
    return render_template("respond/closed.html", project=visit.project, state=visit.state), 403


@bp.get("/<token>")
def start(token: str) -> ResponseReturnValue:
    visit = responses.visit(db.connection(), token, _cookie_response_id(), today=date.today(),
                            requested_page=_int_arg(request.args.get("page")))
    if visit.state == "complete":
        return render_template("respond/done.html", project=visit.project, already=True)
    if visit.state != "form":
        return _closed(visit)
    return _render(visit, visit.page)


@bp.post("/<token>")
def submit(token: str) -> ResponseReturnValue:
    security.check_respondent_csrf(token)
    connection = db.connection()
    key = request.form.get("submission_key", "")
    try:
        shown_at = float(request.form.get("shown_at", ""))
    except ValueError:
        shown_at = None
    try:
        outcome = responses.submit_page(
            connection, token, _cookie_response_id(), request.form.to_dict(flat=False), key=key,
            page=_int_arg(request.form.get("page")) or 0, language=_language(),
            user_agent=request.headers.get("User-Agent", ""), client_ip=request.remote_addr or "",
            secret=current_app.config["SECRET_KEY"], shown_at=shown_at, today=date.today())
        if outcome.writes and connection.in_transaction():
            connection.commit()
    except (SurveyClosed, AlreadySubmitted, QuotaFull) as exc:
        db.autocommit(connection)
        visit = responses.visit(connection, token, _cookie_response_id(), today=date.today())
        template = "respond/done.html" if isinstance(exc, AlreadySubmitted) else "respond/closed.html"
        state = "quota_full" if isinstance(exc, QuotaFull) else visit.state
        return render_template(template, project=visit.project, state=state, already=True), exc.status
    except IntegrityError:
        db.autocommit(connection)  # a concurrent retry of the same page won the race
        outcome = responses.replay(connection, key) or responses.PageOutcome("next", None)
    if outcome.kind == "errors" and outcome.visit is not None:
        raw = responses.raw_inputs(request.form.to_dict(flat=False)) if outcome.page == outcome.visit.page else None
        db.autocommit(connection)  # a page with problems writes nothing
        return _render(outcome.visit, outcome.page, errors=outcome.errors, raw=raw, status=422)
    target = url_for("respond.done", token=token) if outcome.kind == "done" else url_for("respond.start", token=token)
    reply = redirect(target, code=303)
    if outcome.response_id is not None and outcome.open_link:
        reply.set_cookie(COOKIE, _signer().dumps(outcome.response_id), max_age=180 * 86400, path=f"{request.script_root}/r/{token}",
                         httponly=True, samesite="Lax", secure=current_app.config["SESSION_COOKIE_SECURE"])
    return reply


@bp.errorhandler(CSRFError)
def _security_check_failed(exc: CSRFError) -> ResponseReturnValue:
    """A POST without this browser's token: nothing is saved; the respondent is told why and sent back."""
    token = str((request.view_args or {}).get("token", ""))
    try:
        visit = responses.visit(db.connection(), token, _cookie_response_id(), today=date.today())
    except AppError as error:  # an unknown or revoked link: the usual page for it (an error handler cannot raise)
        return current_app.handle_user_exception(error)
    referrer = "referrer" in (exc.description or "")
    return render_template("respond/expired.html", project=visit.project, token=token, referrer=referrer), 400


@bp.get("/<token>/done")
def done(token: str) -> ResponseReturnValue:
    visit = responses.visit(db.connection(), token, _cookie_response_id(), today=date.today())
    if visit.state != "complete":
        return redirect(url_for("respond.start", token=token))
    return render_template("respond/done.html", project=visit.project, already=False)
