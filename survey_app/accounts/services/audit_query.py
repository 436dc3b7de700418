"""Reading the audit log: filters for the admin page and a CSV export. Nothing here writes.

Filters are checked before anything is read (422 with a message in the user's language):
dates are ISO days, ``page`` a whole number from 1 (past the last page shows the last page), and
the text filters fit their columns and hold no control characters (PostgreSQL refuses NUL).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent
from survey_app.core import exporters
from survey_app.core.errors import ValidationFailed
from survey_app.core.pagination import page_within

PAGE_SIZE = 100


EXPORT_BATCH = 2_000


#: Text filters and the columns they search (their width is the longest value worth typing).
TEXT_FILTERS = {"actor": AuditEvent.actor_label, "action": AuditEvent.action, "object_type": AuditEvent.object_type,
                "object_id": AuditEvent.object_id}


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class AuditFilter:
    actor: str = ""
    action: str = ""
    object_type: str = ""
    object_id: str = ""
    since: date | None = None
    until: date | None = None

    def as_args(self) -> dict[str, str]:
        values = {"actor": self.actor, "action": self.action, "object_type": self.object_type, "object_id": self.object_id, "since": self.since.isoformat() if self.since else "", "until": self.until.isoformat() if self.until else ""}
        return {k: v for k, v in values.items() if v}


@dataclass(frozen=True)
class AuditPage:
    events: list[AuditEvent]
    total: int
    page: int
    pages: int


def _invalid(errors: Mapping[str, list[str]]) -> ValidationFailed:
    return ValidationFailed(_("The audit filter is not valid."), errors)


def _day(value: str, name: str, errors: dict[str, list[str]]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = [_("%(value)s is not a date (YYYY-MM-DD)", value=repr(value))]
        return None


def _text(args: Mapping[str, str], name: str, errors: dict[str, list[str]]) -> str:
    value = args.get(name, "").strip()
    limit = TEXT_FILTERS[name].type.length
    if _CONTROL.search(value):
        errors[name] = [_("contains a control character")]
    elif limit is not None and len(value) > limit:
        errors[name] = [_("at most %(count)d characters", count=limit)]
    return value


def parse_filter(args: Mapping[str, str]) -> AuditFilter:
    errors: dict[str, list[str]] = {}
    since = _day(args.get("since", "").strip(), "since", errors)
    until = _day(args.get("until", "").strip(), "until", errors)
    if since and until and since > until:
        errors["until"] = [_("must not be before the start date")]
    texts = {name: _text(args, name, errors) for name in TEXT_FILTERS}
    if errors:
        raise _invalid(errors)
    return AuditFilter(**texts, since=since, until=until)


def parse_page(args: Mapping[str, str]) -> int:
    """The page number asked for (1 when none is given)."""
    value = args.get("page", "").strip()
    if not value:
        return 1
    try:
        page = int(value) if value.isdecimal() else 0
    except ValueError:  # more digits than Python converts
        page = 0
    if page < 1:
        raise _invalid({"page": [_("%(value)s is not a page number (a whole number from 1)", value=repr(value))]})
    return page


def _query(f: AuditFilter) -> Select[Any]:
    query = select(AuditEvent)
    if f.actor:
        query = query.where(func.lower(AuditEvent.actor_label).contains(f.actor.lower(), autoescape=True))
    if f.action:
        query = query.where(AuditEvent.action.startswith(f.action, autoescape=True))
    if f.object_type:
        query = query.where(AuditEvent.object_type == f.object_type)
    if f.object_id:
        query = query.where(AuditEvent.object_id == f.object_id)
    if f.since:
        query = query.where(AuditEvent.occurred_at >= datetime.combine(f.since, time.min, UTC))
    if f.until and f.until < date.max:  # the last day there is (9999-12-31) has no next day: no upper bound
        query = query.where(AuditEvent.occurred_at < datetime.combine(f.until + timedelta(days=1), time.min, UTC))
    return query


def search(session: Session, f: AuditFilter, page: int = 1) -> AuditPage:
    """One page of matching events, newest first (a page past the last one is the last one)."""
    total = int(session.scalar(select(func.count()).select_from(_query(f).subquery())) or 0)
    pages = max(1, -(-total // PAGE_SIZE))
    page = page_within(page, total, PAGE_SIZE)
    events = session.scalars(_query(f).order_by(AuditEvent.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    return AuditPage(list(events), total, page, pages)


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def object_types(session: Session) -> list[str]:
    return [t for t in session.scalars(select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)) if t]


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def export_csv(session: Session, f: AuditFilter) -> Iterator[bytes]:
    """The matching events as CSV (UTF-8 with BOM for Excel), oldest first, read in batches.

    Cells go through :func:`survey_app.core.exporters.spreadsheet_safe`: an e-mail address typed
    at the log-in form (``=HYPERLINK(...)@x``) is kept as text, never run as a formula.
    """
    yield exporters.BOM.encode("utf-8")
    yield exporters.csv_lines([["id", "occurred_at", "actor_id", "actor", "action", "object_type", "object_id", "before", "after", "details"]]).encode("utf-8")
    last_id = 0
    while True:
        batch = list(session.scalars(_query(f).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(EXPORT_BATCH)))
        yield exporters.csv_lines(
            [e.id, e.occurred_at.isoformat(), e.actor_id or "", e.actor_label, e.action, e.object_type, e.object_id, _json(e.before), _json(e.after), _json(e.details)]
            for e in batch
        ).encode("utf-8")
        if len(batch) < EXPORT_BATCH:
            return
        last_id = batch[-1].id
