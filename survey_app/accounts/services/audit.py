"""Writing the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any

from sqlalchemy import inspect as sa_inspect
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, User


def _jsonable(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    return value


def snapshot(obj: Any, *, exclude: tuple[str, ...] = ("password_hash", "session_version")) -> dict[str, Any]:
    """The column values of an ORM object, JSON-ready, for ``before`` / ``after``."""
    mapper = sa_inspect(obj).mapper
    return {
        col.key: _jsonable(getattr(obj, col.key))
        for col in mapper.column_attrs
        if col.key not in exclude
    }


def record(
    session: Session,
    action: str,
    *,
    actor: User | None = None,
    actor_label: str | None = None,
    object_type: str = "",
    object_id: Any = "",
    before: Mapping[str, Any] | None = None,
    after: Mapping[str, Any] | None = None,
    details: Mapping[str, Any] | None = None,
) -> AuditEvent:
    """Add an audit event to the session (it is written with the caller's transaction)."""
    event = AuditEvent(
        actor_id=actor.id if actor is not None else None,
        actor_label=actor_label or (actor.email if actor is not None else "system"),
        action=action,
        object_type=object_type,
        object_id="" if object_id is None else str(object_id),
        before=_jsonable(before) if before is not None else None,
        after=_jsonable(after) if after is not None else None,
        details=_jsonable(details) if details is not None else None,
    )
    session.add(event)
    return event
