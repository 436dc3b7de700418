"""Reading the audit log: filters for the admin page and a CSV export. Nothing here writes."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent
from survey_app.core.errors import ValidationFailed
from survey_app.core.pagination import page_within

PAGE_SIZE = 100


EXPORT_BATCH = 2_000


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


def _day(value: str, name: str, errors: dict[str, list[str]]) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        errors[name] = [f"{value!r} is not a date (YYYY-MM-DD)"]
        return None


def parse_filter(args: Mapping[str, str]) -> AuditFilter:
    errors: dict[str, list[str]] = {}
    since = _day(args.get("since", "").strip(), "since", errors)
    until = _day(args.get("until", "").strip(), "until", errors)
    if since and until and since > until:
        errors["until"] = ["must not be before the start date"]
    if errors:
        raise ValidationFailed("The audit filter is not valid.", errors)
    return AuditFilter(
        actor=args.get("actor", "").strip(),
        action=args.get("action", "").strip(),
        object_type=args.get("object_type", "").strip(),
        object_id=args.get("object_id", "").strip(),
        since=since,
        until=until,
    )


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
    if f.until:
        query = query.where(AuditEvent.occurred_at < datetime.combine(f.until + timedelta(days=1), time.min, UTC))
    return query


def search(session: Session, f: AuditFilter, page: int = 1) -> tuple[list[AuditEvent], int, int]:
    """One page of matching events, newest first, the total count and the page shown (clamped)."""
    total = int(session.scalar(select(func.count()).select_from(_query(f).subquery())) or 0)
    page = page_within(page, total, PAGE_SIZE)
    events = session.scalars(_query(f).order_by(AuditEvent.id.desc()).limit(PAGE_SIZE).offset((page - 1) * PAGE_SIZE))
    return list(events), total, page


def actions(session: Session) -> list[str]:
    return list(session.scalars(select(AuditEvent.action).distinct().order_by(AuditEvent.action)))


def object_types(session: Session) -> list[str]:
    return [t for t in session.scalars(select(AuditEvent.object_type).distinct().order_by(AuditEvent.object_type)) if t]


def _json(value: Any) -> str:
    return "" if value is None else json.dumps(value, ensure_ascii=False, sort_keys=True)


def export_csv(session: Session, f: AuditFilter) -> Iterator[str]:
    """The matching events as CSV text (UTF-8 BOM for Excel), oldest first, streamed in batches."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    yield "\ufeff"
    writer.writerow(["id", "occurred_at", "actor_id", "actor", "action", "object_type", "object_id", "before", "after", "details"])
    last_id = 0
    while True:
        batch = list(session.scalars(_query(f).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(EXPORT_BATCH)))
        for e in batch:
            writer.writerow([e.id, e.occurred_at.isoformat(), e.actor_id or "", e.actor_label, e.action, e.object_type, e.object_id, _json(e.before), _json(e.after), _json(e.details)])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
        if len(batch) < EXPORT_BATCH:
            return
        last_id = batch[-1].id
