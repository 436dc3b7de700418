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
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from datetime import date, datetime
from typing import Any, cast

import psycopg
from flask_babel import gettext as _
from psycopg.types.json import Json
from sqlalchemy import (
    JSON,
    Connection,
    Enum,
    Integer,
    String,
    Table,
    and_,
    bindparam,
    exc,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)

from survey_app.core import db
from survey_app.core.errors import AppError, Conflict, NotFound
from survey_app.core.models import utcnow
from survey_app.fieldwork.models import Invitation, InvitationKind, InvitationStatus
from survey_app.projects.models import SurveyProject, accepts_responses
from survey_app.questionnaires.engine.runtime import INPUT_PREFIX, MESSAGES, Form, PageResult
from survey_app.questionnaires.models import Questionnaire, QuestionnaireVersion, VersionStatus
from survey_app.questionnaires.services.forms import form_by_id
from survey_app.respond.models import PageSubmission, QuotaCell, Response, ResponseStatus
from survey_app.respond.services import quotas

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_-]{16,64}$")


MAX_PAGE_SECONDS = 6 * 3600


UNIQUE_REASON = "hashed"


# Tables, not mapped classes: the respondent path runs plain SQL Core statements (no unit of work,
# no identity map), a few per page view, so that one server keeps up with many respondents.
_INV = cast(Table, Invitation.__table__)


_PROJ = cast(Table, SurveyProject.__table__)


_RESP = cast(Table, Response.__table__)


_VER = cast(Table, QuestionnaireVersion.__table__)


_QUEST = cast(Table, Questionnaire.__table__)


_PAGES = cast(Table, PageSubmission.__table__)


_QUOTAS = cast(Table, QuotaCell.__table__)


class SurveyClosed(AppError):
    status, code = 403, "survey_closed"


class AlreadySubmitted(AppError):
    status, code = 409, "already_submitted"


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


@dataclass(slots=True)
class LinkInvitation:
    """The columns of an invitation the respondent's pages need."""

    id: int
    token: str
    kind: InvitationKind
    status: InvitationStatus
    sample_unit_id: int | None
    project_id: int


@dataclass(slots=True)
class ResponseState:
    """A response as stored (``id`` is None until its first page is saved)."""

    id: int | None
    version_id: int
    status: ResponseStatus
    answers: dict[str, Any]
    missing: dict[str, Any]
    page: int
    furthest_page: int
    paradata: dict[str, Any]
    dedupe_hash: str | None

    @property
    def is_complete(self) -> bool:
        return self.status == ResponseStatus.COMPLETE


@dataclass(slots=True, frozen=True)
class ProjectLabels:
    """The columns of a survey project the respondent's pages show and check."""

    id: int
    status: str
    title: str
    title_en: str
    form_number: str
    issuing_authority: str
    approval_number: str
    valid_until: date
    fieldwork_start: date | None
    fieldwork_end: date | None

    def accepts_responses_on(self, day: date) -> bool:
        return accepts_responses(self.status, self.valid_until, self.fieldwork_start, self.fieldwork_end, day)


@dataclass
class Visit:
    """What a respondent's link leads to. ``state``: form, closed, complete, unavailable."""

    invitation: LinkInvitation
    project: ProjectLabels
    state: str
    form: Form | None = None
    response: ResponseState | None = None
    page: int = 0


@dataclass
class PageOutcome:
    """``kind``: ``next`` (go to ``page``), ``done``, or ``errors`` (show ``page`` again)."""

    kind: str
    response_id: int | None
    page: int = 0
    errors: dict[str, str] = field(default_factory=dict)
    visit: Visit | None = None
    replayed: bool = False  # the key was already used: nothing must be written
    token: str | None = None  # of a replayed key's response
    open_link: bool = False  # the browser keeps a cookie to find its response again (personal links need none)

    @property
    def writes(self) -> bool:
        return self.kind != "errors" and not self.replayed


PROJECT_COLUMNS = tuple(f.name for f in fields(ProjectLabels))


_RESPONSE_COLUMNS = ("id", "version_id", "status", "answers", "missing", "page", "furthest_page", "paradata", "dedupe_hash")


def _link_statement(with_key: bool) -> Any:
    """One query for a link: invitation, project, the response, the version it answers (the
    response's, else the newest published) and, for a POST, whether the key was used and whether
    the project has quotas."""
    newest = (select(_VER.c.id).select_from(_VER.join(_QUEST, _QUEST.c.id == _VER.c.questionnaire_id))
              .where(_QUEST.c.project_id == _INV.c.project_id, _VER.c.status == VersionStatus.PUBLISHED)
              .order_by(_VER.c.number.desc()).limit(1).correlate(_INV).scalar_subquery())
    version = _VER.alias("v")
    columns = [
        *(_INV.c[name].label(f"i_{name}") for name in ("id", "token", "kind", "status", "sample_unit_id", "project_id")),
        *(_PROJ.c[name].label(f"p_{name}") for name in PROJECT_COLUMNS),
        *(_RESP.c[name].label(f"r_{name}") for name in _RESPONSE_COLUMNS),
        version.c.id.label("v_id"), version.c.source_sha256.label("v_sha256"),
    ]
    if with_key:
        columns += [exists().where(_PAGES.c.key == bindparam("key", type_=String)).label("key_used"),
                    exists().where(_QUOTAS.c.project_id == _INV.c.project_id).label("has_quotas")]
    joined = (_INV.join(_PROJ, _PROJ.c.id == _INV.c.project_id)
              .outerjoin(_RESP, and_(_RESP.c.invitation_id == _INV.c.id,
                                     or_(_INV.c.kind == InvitationKind.PERSONAL,
                                         _RESP.c.id == bindparam("cookie", type_=Integer))))
              .outerjoin(version, version.c.id == func.coalesce(_RESP.c.version_id, newest)))
    return select(*columns).select_from(joined).where(_INV.c.token == bindparam("token", type_=String)).limit(1)


class _Hot:
    """A statement of the respondent's hot path, built once, and its PostgreSQL form.

    On PostgreSQL (psycopg) it runs on the driver's connection with the SQL that SQLAlchemy compiled
    for it once, which costs about half of a SQLAlchemy execution (no execution context or result
    object); values are adapted as its column types say (JSON, enums as their values) and errors
    become SQLAlchemy's exceptions. Elsewhere it is an ordinary SQLAlchemy execution. Only for
    autocommit statements: a transaction's statements go through SQLAlchemy. The models' Python-side
    column defaults are not applied on that path, so these statements give every column a value.
    """

    def __init__(self, statement: Any) -> None:
        self.statement = statement
        self._compiled: tuple[Any, Any, dict[str, Any]] | None = None

    def _postgresql(self, connection: Connection) -> tuple[Any, Any, dict[str, Any]]:
        if self._compiled is None or self._compiled[0] is not connection.dialect:
            compiled = self.statement.compile(dialect=connection.dialect)
            assert "POSTCOMPILE" not in compiled.string
            adapt = {compiled.bind_names[bind]: _adapter(bind.type) for bind in compiled.binds.values()}
            self._compiled = (connection.dialect, compiled, {k: v for k, v in adapt.items() if v is not None})
        return self._compiled

    def first(self, connection: Connection, params: dict[str, Any]) -> tuple[Any, ...] | None:
        if connection.dialect.driver != "psycopg" or not db.in_autocommit(connection):
            row = connection.execute(self.statement, params).first()
            return None if row is None else tuple(row)
        dialect, compiled, adapt = self._postgresql(connection)
        values = compiled.construct_params(params)
        for name, convert in adapt.items():
            values[name] = convert(values[name])
        raw: Any = connection.connection.driver_connection
        try:
            found: tuple[Any, ...] | None = raw.execute(compiled.string, values).fetchone()
            return found
        except psycopg.Error as error:
            translated = exc.DBAPIError.instance(compiled.string, values, error, psycopg.Error,
                                                 connection_invalidated=dialect.is_disconnect(error, raw, None))
            if translated.connection_invalidated:
                connection.invalidate(error)
            raise translated from error


def _adapter(column_type: Any) -> Any:
    if isinstance(column_type, JSON):
        return lambda value: None if value is None else Json(value)
    if isinstance(column_type, Enum):
        return lambda value: None if value is None else str(getattr(value, "value", value))
    return None


# Built once (constructing a statement costs more than running it); only the parameters change.
_LINK_STATEMENTS = {False: _Hot(_link_statement(False)), True: _Hot(_link_statement(True))}


_LINK_NAMES = {with_key: [c.name for c in hot.statement.selected_columns] for with_key, hot in _LINK_STATEMENTS.items()}


@dataclass
class _Link:
    invitation: LinkInvitation | None
    project: ProjectLabels | None
    response: ResponseState | None = None
    version: tuple[int, str] | None = None
    key_used: bool = False
    has_quotas: bool = False


def _link(connection: Connection, token: str, cookie_response_id: int | None, key: str | None = None) -> _Link:
    """The link's invitation, project, response and version (and whether ``key`` was used) in one query.

    A personal link's response is its own; an open link's is the cookie's, if it came from this link.
    """
    if not token or len(token) > 64:
        return _Link(None, None)
    params: dict[str, Any] = {"token": token, "cookie": cookie_response_id}
    if key is not None:
        params["key"] = key
    row = _LINK_STATEMENTS[key is not None].first(connection, params)
    if row is None:
        used = bool(key) and connection.execute(select(exists().where(_PAGES.c.key == key))).scalar() is True
        return _Link(None, None, key_used=used)
    values = dict(zip(_LINK_NAMES[key is not None], row, strict=True))
    invitation = LinkInvitation(*(values[f"i_{name}"] for name in ("id", "token", "kind", "status", "sample_unit_id", "project_id")))
    invitation.kind, invitation.status = InvitationKind(invitation.kind), InvitationStatus(invitation.status)
    project = ProjectLabels(*(values[f"p_{name}"] for name in PROJECT_COLUMNS))
    response = (ResponseState(*(values[f"r_{name}"] for name in _RESPONSE_COLUMNS))
                if values["r_id"] is not None else None)
    if response is not None:
        response.status = ResponseStatus(response.status)
    version = (values["v_id"], values["v_sha256"]) if values["v_id"] is not None else None
    return _Link(invitation, project, response, version,
                 bool(values["key_used"]) if key is not None else False,
                 bool(values["has_quotas"]) if key is not None else False)


def _valid(link: _Link) -> tuple[LinkInvitation, ProjectLabels]:
    """The link's invitation and project; revoked and unknown tokens are not found."""
    if link.invitation is None or link.project is None or link.invitation.status == InvitationStatus.REVOKED:
        raise NotFound(_("This survey link is not valid."))
    return link.invitation, link.project


def visit(connection: Connection, token: str, cookie_response_id: int | None, *, today: date,
          requested_page: int | None = None) -> Visit:
    """Resolve a link for a GET: which page to show, or why not (one query)."""
    link = _link(connection, token, cookie_response_id)
    invitation, project = _valid(link)
    response = link.response
    form = form_by_id(connection, *link.version) if link.version is not None else None
    if response is not None and response.is_complete:
        return Visit(invitation, project, "complete", form, response)
    if not project.accepts_responses_on(today):
        return Visit(invitation, project, "closed")
    if form is None:
        return Visit(invitation, project, "unavailable")
    answers = response.answers if response is not None else {}
    page = response.page if response is not None else form.first_page
    if requested_page is not None and response is not None and 0 <= requested_page <= response.furthest_page:
        _values, relevant = form.evaluate(answers)
        if form.page_visible(requested_page, relevant):
            page = requested_page
    return Visit(invitation, project, "form", form, response, page)


_REPLAY = (select(_PAGES.c.outcome, _PAGES.c.response_id, _INV.c.token, _INV.c.kind)
           .select_from(_PAGES.join(_RESP, _RESP.c.id == _PAGES.c.response_id)
                        .outerjoin(_INV, _INV.c.id == _RESP.c.invitation_id))
           .where(_PAGES.c.key == bindparam("key", type_=String)))


def replay(connection: Connection, key: str) -> PageOutcome | None:
    """The outcome already recorded for an idempotency key, if any."""
    done = connection.execute(_REPLAY, {"key": key}).first()
    if done is None:
        return None
    outcome, response_id, token, kind = done
    open_link = kind is not None and kind != InvitationKind.PERSONAL
    if outcome == "done":
        return PageOutcome("done", response_id, replayed=True, token=token, open_link=open_link)
    return PageOutcome("next", response_id, int(outcome.split(":", 1)[1]), replayed=True, token=token, open_link=open_link)


def _out_of_date() -> Conflict:
    return Conflict(_("This page is out of date. Please reload it and answer again."))


def submit_page(connection: Connection, token: str, cookie_response_id: int | None, formdata: Mapping[str, list[str]], *,
                key: str, page: int, language: str, user_agent: str, client_ip: str, secret: str,
                shown_at: float | None, today: date) -> PageOutcome:
    """Apply one page POST. On ``errors`` nothing must be committed (the caller rolls back)."""
    if not KEY_PATTERN.match(key or ""):
        raise _out_of_date()
    link = _link(connection, token, cookie_response_id, key)
    if link.key_used:
        previous = replay(connection, key)
        if previous is not None:
            if previous.token != token:
                raise _out_of_date()
            return previous
    invitation, project = _valid(link)
    response = link.response
    if response is not None and response.is_complete:
        raise AlreadySubmitted(_("This questionnaire has already been submitted. Thank you."))
    if not project.accepts_responses_on(today):
        raise SurveyClosed(_("This survey is closed and accepts no answers."))
    if link.version is None:
        raise NotFound(_("This survey has no published questionnaire yet."))
    form = form_by_id(connection, *link.version)
    if response is None:
        if page != form.first_page:
            raise Conflict(_("Your answers on this device have expired. Please start again from the first page."))
        response = ResponseState(None, link.version[0], ResponseStatus.PARTIAL, {}, {}, page, page,
                                 {"pages": {}, "visits": 0}, None)
    if not 0 <= page < len(form.pages) or page > response.furthest_page:
        raise _out_of_date()
    result = form.apply_page(page, formdata, response.answers, response.missing, language)
    _check_unique(connection, form, page, project.id, response, result, secret)
    if not result.ok:
        late = replay(connection, key)  # a concurrent retry of this very POST finished meanwhile
        if late is not None:
            return late
        return PageOutcome("errors", response.id, page, result.errors, Visit(invitation, project, "form", form, response, page))
    outcome = _save(connection, form, response, invitation, result, key=key, page=page, language=language,
                    user_agent=user_agent, shown_at=shown_at, client_ip=client_ip, secret=secret,
                    has_quotas=link.has_quotas)
    if outcome.kind == "errors":
        outcome.visit = Visit(invitation, project, "form", form, response, outcome.page)
    return outcome


def _check_unique(connection: Connection, form: Form, page: int, project_id: int, response: ResponseState,
                  result: PageResult, secret: str) -> None:
    """Replace the unique question's answer by a keyed hash; refuse a value already used."""
    name = form.definition["settings"].get("unique_question") or ""
    if not name or form.page_of.get(name) != page or name in result.errors or result.answers.get(name) is None:
        return
    digest = keyed_hash(secret, f"unique:{project_id}", _normalise_unique(result.answers[name]))
    taken = connection.execute(select(_RESP.c.id).where(_RESP.c.project_id == project_id,
                                                        _RESP.c.dedupe_hash == digest).limit(1)).scalar()
    if taken is not None and taken != response.id:
        result.errors[name] = str(MESSAGES["unique_used"])
        return
    response.dedupe_hash = digest
    result.answers[name] = None
    result.missing[name] = UNIQUE_REASON
    result.relevant = {}  # the answers changed: relevance is evaluated again


_UPDATED = ("status", "answers", "missing", "page", "furthest_page", "language", "device_class", "paradata",
            "dedupe_hash", "updated_at", "submitted_at")


_INSERTED = (*_UPDATED, "project_id", "version_id", "invitation_id", "sample_unit_id", "ip_hash", "started_at")


def _bind(columns: tuple[str, ...]) -> dict[str, Any]:
    return {name: bindparam(f"r_{name}", type_=_RESP.c[name].type) for name in columns}


def _response_write(new: bool) -> Any:
    """INSERT the response (first page) or UPDATE it while it is partial, returning its id."""
    if new:
        return insert(_RESP).values(_bind(_INSERTED)).returning(_RESP.c.id)
    return (update(_RESP).where(_RESP.c.id == bindparam("rid", type_=Integer), _RESP.c.status == ResponseStatus.PARTIAL)
            .values(_bind(_UPDATED)).returning(_RESP.c.id))


_PAGE_PARAMS = (bindparam("key", type_=_PAGES.c.key.type), bindparam("page", type_=Integer),
                bindparam("outcome", type_=_PAGES.c.outcome.type), bindparam("now", type_=_PAGES.c.created_at.type))


def _invitation_write(submitted: bool) -> Any:
    values: dict[str, Any] = {"status": bindparam("i_status", type_=_INV.c.status.type)}
    if submitted:
        values["submitted_at"] = bindparam("now", type_=_INV.c.submitted_at.type)
    return update(_INV).where(_INV.c.id == bindparam("iid", type_=Integer)).values(values)


@dataclass
class _Write:
    """What saving one page writes: ``response`` values (``rid`` set for an update), the page
    submission (``key``, ``page``, ``outcome``, ``now``) and, if its status changes, the invitation."""

    params: dict[str, Any]
    new: bool
    invitation: str | None  # "submitted", "started" or None


def _write_statements(connection: Connection, write: _Write) -> int | None:
    """The page as separate statements (inside the caller's transaction); the response id, or None when
    the response was completed meanwhile (nothing then written)."""
    response_id = connection.execute(_STATEMENTS[("response", write.new)], write.params).scalar()
    if response_id is None:
        return None
    key, page, outcome, now = _PAGE_PARAMS
    connection.execute(insert(_PAGES).values(key=key, response_id=response_id, page=page, outcome=outcome, created_at=now),
                       write.params)  # the key's unique constraint stops a concurrent retry here (IntegrityError)
    if write.invitation is not None:
        connection.execute(_STATEMENTS[("invitation", write.invitation == "submitted")], write.params)
    return int(response_id)


def _one_statement(new: bool, invitation: str | None) -> Any:
    """The same writes as :func:`_write_statements` in one PostgreSQL statement (data-modifying CTEs),
    atomic on its own, so a page needs no BEGIN and COMMIT round trips."""
    written = _response_write(new).cte("written")
    page = insert(_PAGES).from_select(["key", "response_id", "page", "outcome", "created_at"], select(
        _PAGE_PARAMS[0], written.c.id, *_PAGE_PARAMS[1:])).cte("page_written")
    statement = select(written.c.id).add_cte(page)
    if invitation is not None:
        statement = statement.add_cte(
            _invitation_write(invitation == "submitted").where(exists(select(written.c.id))).cte("invitation_written"))
    return statement


_STATEMENTS: dict[tuple[Any, ...], Any] = {
    **{("response", new): _response_write(new) for new in (True, False)},
    **{("invitation", submitted): _invitation_write(submitted) for submitted in (True, False)},
    **{("one", new, invitation): _Hot(_one_statement(new, invitation))
       for new in (True, False) for invitation in ("submitted", "started", None)},
}


def _write_one_statement(connection: Connection, write: _Write) -> int | None:
    row = _STATEMENTS[("one", write.new, write.invitation)].first(connection, write.params)
    return None if row is None else int(row[0])


def _save(connection: Connection, form: Form, response: ResponseState, invitation: LinkInvitation, result: PageResult, *,
          key: str, page: int, language: str, user_agent: str, shown_at: float | None, client_ip: str, secret: str,
          has_quotas: bool) -> PageOutcome:
    """Write the page: the response (inserted on its first page), the idempotency key, the invitation's
    status and, on completion, the quota counts.

    ``connection`` is in autocommit mode (:func:`survey_app.core.db.connection`). On PostgreSQL a page
    without quotas to count is one statement, atomic on its own; otherwise the writes run in a
    transaction begun here, which the caller commits.
    """
    answers, missing = result.answers, result.missing
    paradata: dict[str, Any] = {"pages": dict(response.paradata.get("pages", {})), "visits": int(response.paradata.get("visits", 0)) + 1}
    if shown_at is not None:
        spent = min(max(time.time() - shown_at, 0.0), MAX_PAGE_SECONDS)
        page_name = form.pages[page]["name"]
        paradata["pages"][page_name] = round(paradata["pages"].get(page_name, 0.0) + spent, 1)
    following = form.next_page(page, answers, result.relevant or None)
    now = utcnow()
    submitted_at: datetime | None = None
    if following is None:
        checked, bad_page = form.check_all(answers, missing, language, settled=result)
        if bad_page is not None:
            return PageOutcome("errors", response.id, bad_page, checked.errors)
        answers, missing = checked.answers, checked.missing
        status, outcome, submitted_at = ResponseStatus.COMPLETE, "done", now
    else:
        status, outcome = ResponseStatus.PARTIAL, f"page:{following}"
    params: dict[str, Any] = {
        "r_status": status, "r_answers": answers, "r_missing": missing, "r_page": page if following is None else following,
        "r_furthest_page": max(response.furthest_page, following or page), "r_language": language,
        "r_device_class": device_class(user_agent), "r_paradata": paradata, "r_dedupe_hash": response.dedupe_hash,
        "r_updated_at": now, "r_submitted_at": submitted_at,
        "key": key, "page": page, "outcome": outcome, "now": now, "iid": invitation.id,
    }
    if response.id is None:
        params.update({
            "r_project_id": invitation.project_id, "r_version_id": response.version_id, "r_invitation_id": invitation.id,
            "r_sample_unit_id": invitation.sample_unit_id if invitation.kind == InvitationKind.PERSONAL else None,
            "r_ip_hash": keyed_hash(secret, "ip", client_ip) if client_ip else "", "r_started_at": now})
    else:
        params["rid"] = response.id
    changes = None
    if outcome == "done":
        if invitation.kind == InvitationKind.PERSONAL:
            changes = "submitted"
    elif invitation.status == InvitationStatus.ISSUED:
        changes = "started"
    if changes is not None:
        params["i_status"] = InvitationStatus.SUBMITTED if changes == "submitted" else InvitationStatus.STARTED
    write = _Write(params, response.id is None, changes)
    counts_quotas = outcome == "done" and has_quotas
    one_statement = connection.dialect.name == "postgresql"
    if one_statement and not counts_quotas and db.in_autocommit(connection):
        response_id = _write_one_statement(connection, write)  # atomic on its own, in autocommit mode
    else:
        db.begin(connection)  # the caller commits
        response_id = (_write_one_statement if one_statement else _write_statements)(connection, write)
        if response_id is not None and counts_quotas:
            quotas.reserve(connection, invitation.project_id, answers)  # raises quotas.QuotaFull when a cell is full
    if response_id is None:
        raise AlreadySubmitted(_("This questionnaire has already been submitted. Thank you."))  # completed meanwhile
    response.id = response_id
    open_link = invitation.kind != InvitationKind.PERSONAL
    if outcome == "done":
        return PageOutcome("done", response.id, open_link=open_link)
    return PageOutcome("next", response.id, following or 0, open_link=open_link)


def raw_inputs(formdata: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """Only the answer fields of a POST (``q-<name>``)."""
    return {k: v for k, v in formdata.items() if k.startswith(INPUT_PREFIX)}
