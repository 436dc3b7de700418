"""Respondents' visits and page submissions: save-and-resume, idempotency, single use, paradata.

Rules the server enforces on every page POST (whatever the browser did):

- the survey is open (status, fieldwork window, statutory validity) or nothing is accepted;
- a personal token has one response (bound to its sample unit) and cannot submit twice;
- an open link's response is found through a signed per-browser cookie; a configured unique
  question (e.g. a phone number) is kept only as a keyed hash and may be used once per survey;
- each page render carries an idempotency key; a repeated key (double click, retried POST, on
  any process) changes nothing and returns the first outcome (unique constraint on the key);
- answers are parsed, relevance re-evaluated (non-relevant answers dropped), required,
  bounds, choice filters and constraints checked; a page with problems writes nothing.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from threading import Lock
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Integer, Select, String, and_, bindparam, exists, or_, select
from sqlalchemy.orm import Session, defer

from survey_app.errors import AppError, Conflict, NotFound
from survey_app.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    PageSubmission,
    QuestionnaireVersion,
    Response,
    ResponseStatus,
    SurveyProject,
)
from survey_app.models.base import utcnow
from survey_app.questionnaire.runtime import INPUT_PREFIX, MESSAGES, Form, PageResult
from survey_app.services import questionnaires, quotas

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")
MAX_PAGE_SECONDS = 6 * 3600
UNIQUE_REASON = "hashed"


class SurveyClosed(AppError):
    status, code = 403, "survey_closed"


class AlreadySubmitted(AppError):
    status, code = 409, "already_submitted"


_FORMS: OrderedDict[tuple[int, str], Form] = OrderedDict()
_FORMS_LOCK = Lock()


def form_for(version: QuestionnaireVersion) -> Form:
    """The evaluable form of a version (cached per process; published versions never change)."""
    key = (version.id, version.source_sha256 if not version.is_published else "published")
    with _FORMS_LOCK:
        form = _FORMS.get(key)
        if form is None:
            form = _FORMS[key] = Form(version.definition)
            while len(_FORMS) > 64:
                _FORMS.popitem(last=False)
        return form


def device_class(user_agent: str) -> str:
    agent = user_agent.lower()
    if "ipad" in agent or "tablet" in agent or ("android" in agent and "mobile" not in agent):
        return "tablet"
    if any(word in agent for word in ("mobi", "iphone", "ipod", "android", "phone")):
        return "phone"
    return "desktop"


def keyed_hash(secret: str, purpose: str, value: str) -> str:
    return hmac.new(secret.encode(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def _normalise_unique(value: Any) -> str:
    return re.sub(r"[\s()+-]", "", str(value)).lower()


@dataclass
class Visit:
    """What a respondent's link leads to. ``state``: form, closed, complete, unavailable."""

    invitation: Invitation
    project: SurveyProject
    state: str
    version: QuestionnaireVersion | None = None
    response: Response | None = None
    page: int = 0

    @property
    def form(self) -> Form:
        assert self.version is not None
        return form_for(self.version)


@dataclass
class PageOutcome:
    """``kind``: ``next`` (go to ``page``), ``done``, or ``errors`` (show ``page`` again)."""

    kind: str
    response: Response | None
    page: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    visit: Visit | None = None
    replayed: bool = False  # the key was already used: nothing must be written

    @property
    def writes(self) -> bool:
        return self.kind != "errors" and not self.replayed


# A version's definition is read only when its form is not cached yet; the uploaded workbook never here.
_VERSION_COLUMNS = (defer(QuestionnaireVersion.definition), defer(QuestionnaireVersion.source_xlsform))


@dataclass
class _Link:
    invitation: Invitation | None
    project: SurveyProject | None
    response: Response | None
    key_used: bool


def _link_statement(with_key: bool) -> Select[Any]:
    query = (
        select(Invitation, SurveyProject, Response)
        .join(SurveyProject, SurveyProject.id == Invitation.project_id)
        .outerjoin(Response, and_(Response.invitation_id == Invitation.id,
                                  or_(Invitation.kind == InvitationKind.PERSONAL,
                                      Response.id == bindparam("cookie", type_=Integer))))
        .where(Invitation.token == bindparam("token", type_=String))
        .limit(1)
    )
    return query.add_columns(exists().where(PageSubmission.key == bindparam("key", type_=String))) if with_key else query


# Built once (constructing the statement cost more than running it); only the parameters change.
_LINK_STATEMENTS = {False: _link_statement(False), True: _link_statement(True)}


def _link(session: Session, token: str, cookie_response_id: int | None, key: str | None = None) -> _Link:
    """The link's invitation, project and response (and whether ``key`` was used) in one query.

    A personal link's response is its own; an open link's is the cookie's, if it came from this link.
    """
    if not token or len(token) > 64:
        return _Link(None, None, None, False)
    params: dict[str, Any] = {"token": token, "cookie": cookie_response_id}
    if key is not None:
        params["key"] = key
    row = session.execute(_LINK_STATEMENTS[key is not None], params).first()
    if row is None:
        return _Link(None, None, None, bool(key) and session.scalar(select(exists().where(PageSubmission.key == key))) is True)
    response = row[2]
    if response is not None:
        session.get(QuestionnaireVersion, response.version_id, options=_VERSION_COLUMNS)
    return _Link(row[0], row[1], response, bool(row[3]) if key is not None else False)


def _valid(link: _Link) -> tuple[Invitation, SurveyProject]:
    """The link's invitation and project; revoked and unknown tokens are not found."""
    if link.invitation is None or link.project is None or link.invitation.status == InvitationStatus.REVOKED:
        raise NotFound(_("This survey link is not valid."))
    return link.invitation, link.project


def _current_version(session: Session, project_id: int) -> QuestionnaireVersion | None:
    return questionnaires.current_published(session, project_id, options=_VERSION_COLUMNS)


def visit(session: Session, token: str, cookie_response_id: int | None, *, today: date,
          requested_page: int | None = None) -> Visit:
    """Resolve a link for a GET: which page to show, or why not."""
    link = _link(session, token, cookie_response_id)
    invitation, project = _valid(link)
    response = link.response
    if response is not None and response.is_complete:
        return Visit(invitation, project, "complete", response.version, response)
    if not project.accepts_responses_on(today):
        return Visit(invitation, project, "closed")
    version = response.version if response is not None else _current_version(session, project.id)
    if version is None:
        return Visit(invitation, project, "unavailable")
    form = form_for(version)
    answers = response.answers if response is not None else {}
    first = form.next_page(-1, answers) or 0
    page = response.page if response is not None else first
    if requested_page is not None and response is not None and 0 <= requested_page <= response.furthest_page:
        _values, relevant = form.evaluate(answers)
        if form.page_visible(requested_page, relevant):
            page = requested_page
    return Visit(invitation, project, "form", version, response, page)


def replay(session: Session, key: str) -> PageOutcome | None:
    """The outcome already recorded for an idempotency key, if any."""
    done = session.scalars(select(PageSubmission).where(PageSubmission.key == key)).first()
    if done is None:
        return None
    if done.outcome == "done":
        return PageOutcome("done", done.response, replayed=True)
    return PageOutcome("next", done.response, int(done.outcome.split(":", 1)[1]), replayed=True)


def submit_page(session: Session, token: str, cookie_response_id: int | None, formdata: Mapping[str, list[str]], *,
                key: str, page: int, language: str, user_agent: str, client_ip: str, secret: str,
                shown_at: float | None, today: date) -> PageOutcome:
    """Apply one page POST. On ``errors`` nothing must be committed (the caller rolls back)."""
    if not KEY_PATTERN.match(key or ""):
        raise Conflict(_("This page is out of date. Please reload it and answer again."))
    link = _link(session, token, cookie_response_id, key)
    if link.key_used:
        previous = replay(session, key)
        if previous is not None:
            if previous.response is None or previous.response.invitation.token != token:
                raise Conflict(_("This page is out of date. Please reload it and answer again."))
            return previous
    invitation, project = _valid(link)
    response = link.response
    if response is not None and response.is_complete:
        raise AlreadySubmitted(_("This questionnaire has already been submitted. Thank you."))
    if not project.accepts_responses_on(today):
        raise SurveyClosed(_("This survey is closed and accepts no answers."))
    if response is None:
        response = _start(session, invitation, project, page, language, user_agent, client_ip, secret)
    form = form_for(response.version)
    if not 0 <= page < len(form.pages) or page > response.furthest_page:
        raise Conflict(_("This page is out of date. Please reload it and answer again."))
    result = form.apply_page(page, formdata, response.answers, response.missing, language)
    _check_unique(session, form, page, response, result, secret)
    if not result.ok:
        late = replay(session, key)  # a concurrent retry of this very POST finished meanwhile
        if late is not None:
            return late
        return PageOutcome("errors", response, page, result.errors, Visit(invitation, project, "form", response.version, response, page))
    outcome = _save(session, form, response, invitation, result, key=key, page=page, language=language,
                    user_agent=user_agent, shown_at=shown_at)
    if outcome.kind == "errors":
        outcome.visit = Visit(invitation, project, "form", response.version, response, outcome.page)
    return outcome


def _start(session: Session, invitation: Invitation, project: SurveyProject, page: int, language: str,
           user_agent: str, client_ip: str, secret: str) -> Response:
    version = _current_version(session, project.id)
    if version is None:
        raise NotFound(_("This survey has no published questionnaire yet."))
    if page != (form_for(version).next_page(-1, {}) or 0):
        raise Conflict(_("Your answers on this device have expired. Please start again from the first page."))
    response = Response(
        project_id=project.id, version_id=version.id, version=version, invitation_id=invitation.id,
        sample_unit_id=invitation.sample_unit_id if invitation.kind == InvitationKind.PERSONAL else None,
        answers={}, missing={}, page=page, furthest_page=page, language=language,
        device_class=device_class(user_agent), paradata={"pages": {}, "visits": 0},
        ip_hash=keyed_hash(secret, "ip", client_ip) if client_ip else "",
    )
    session.add(response)
    return response


def _check_unique(session: Session, form: Form, page: int, response: Response, result: PageResult, secret: str) -> None:
    """Replace the unique question's answer by a keyed hash; refuse a value already used."""
    name = form.definition["settings"].get("unique_question") or ""
    if not name or form.page_of.get(name) != page or name in result.errors or result.answers.get(name) is None:
        return
    digest = keyed_hash(secret, f"unique:{response.project_id}", _normalise_unique(result.answers[name]))
    taken = session.scalars(select(Response.id).where(Response.project_id == response.project_id,
                                                      Response.dedupe_hash == digest)).first()
    if taken is not None and taken != response.id:
        result.errors[name] = str(MESSAGES["unique_used"])
        return
    response.dedupe_hash = digest
    result.answers[name] = None
    result.missing[name] = UNIQUE_REASON


def _save(session: Session, form: Form, response: Response, invitation: Invitation, result: PageResult, *,
          key: str, page: int, language: str, user_agent: str, shown_at: float | None) -> PageOutcome:
    answers, missing = result.answers, result.missing
    paradata = {"pages": dict(response.paradata.get("pages", {})), "visits": int(response.paradata.get("visits", 0)) + 1}
    if shown_at is not None:
        spent = min(max(time.time() - shown_at, 0.0), MAX_PAGE_SECONDS)
        page_name = form.pages[page]["name"]
        paradata["pages"][page_name] = round(paradata["pages"].get(page_name, 0.0) + spent, 1)
    response.paradata = paradata
    response.language = language
    response.device_class = device_class(user_agent)
    following = form.next_page(page, answers)
    if following is None:
        checked, bad_page = form.check_all(answers, missing, language)
        if bad_page is not None:
            return PageOutcome("errors", response, bad_page, checked.errors)
        response.answers, response.missing = checked.answers, checked.missing
        response.status = ResponseStatus.COMPLETE
        response.submitted_at = utcnow()
        if invitation.kind == InvitationKind.PERSONAL:
            invitation.status = InvitationStatus.SUBMITTED
            invitation.submitted_at = response.submitted_at
        outcome = "done"
        # Everything is in place before the quota check, so that one flush writes the response,
        # the invitation and the idempotency key (its unique constraint raises IntegrityError here).
        session.add(PageSubmission(key=key, response=response, page=page, outcome=outcome))
        quotas.reserve(session, response)  # raises quotas.QuotaFull when a quota cell is full
    else:
        response.answers, response.missing = answers, missing
        response.page = following
        response.furthest_page = max(response.furthest_page, following)
        if invitation.status == InvitationStatus.ISSUED:
            invitation.status = InvitationStatus.STARTED
        outcome = f"page:{following}"
        session.add(PageSubmission(key=key, response=response, page=page, outcome=outcome))
    session.flush()
    if outcome == "done":
        return PageOutcome("done", response)
    return PageOutcome("next", response, following or 0)


def raw_inputs(formdata: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Only the answer fields of a POST (``q-<name>``)."""
    return {k: v for k, v in formdata.items() if k.startswith(INPUT_PREFIX)}
