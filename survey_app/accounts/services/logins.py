"""Log-in attempts and their rate limit.

Attempts are counted from the audit log, so the limit holds across every app process sharing
the database (no state in process memory).
"""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, User
from survey_app.accounts.services import audit, users
from survey_app.core.models import utcnow


def recent_failures(session: Session, email: str, window_seconds: int) -> int:
    since = utcnow() - timedelta(seconds=window_seconds)
    return session.scalar(
        select(func.count(AuditEvent.id)).where(
            AuditEvent.action == "auth.login_failed",
            AuditEvent.object_id == users.normalise_email(email),
            AuditEvent.occurred_at >= since,
        )
    ) or 0


def attempt(session: Session, email: str, password: str, *, max_attempts: int, window_seconds: int) -> tuple[User | None, bool]:
    """Try to log in. Returns ``(user, locked)``; every attempt is audited."""
    email = users.normalise_email(email)
    if recent_failures(session, email, window_seconds) >= max_attempts:
        audit.record(session, "auth.login_locked", actor_label=email, object_type="user", object_id=email)
        return None, True
    user = users.authenticate(session, email, password)
    if user is None:
        audit.record(session, "auth.login_failed", actor_label=email, object_type="user", object_id=email)
        return None, False
    audit.record(session, "auth.login", actor=user, object_type="user", object_id=email)
    return user, False


def log_out(session: Session, user: User) -> None:
    """Log ``user`` out: every session of theirs ends on the server, not only this browser's cookie."""
    audit.record(session, "auth.logout", actor=user)
    users.end_sessions(session, user)
