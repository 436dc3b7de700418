"""Users and their roles, and the append-only audit log."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String, event
from sqlalchemy.orm import Mapped, mapped_column

from survey_app.core.models import Base, Timestamped, enum_type, utcnow


class Role(enum.StrEnum):
    ADMIN = "admin"
    DESIGNER = "designer"
    REVIEWER = "reviewer"
    STATISTICIAN = "statistician"


class User(Timestamped, Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[Role] = mapped_column(enum_type(Role, "user_role"))
    is_active: Mapped[bool] = mapped_column(default=True)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # Part of every log-in session of this user (see get_id); raising it ends them all (log-out,
    # password, role or active flag changed), whoever holds a copy of the cookie.
    session_version: Mapped[int] = mapped_column(default=0, server_default="0")

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        """What the session cookie names: ``"<id>:<session_version>"`` (checked on every request)."""
        return f"{self.id}:{self.session_version}"

    def has_role(self, *roles: Role) -> bool:
        return self.role == Role.ADMIN or self.role in roles

    def __repr__(self) -> str:
        return f"<User {self.id} {self.email} {self.role.value}>"


class LoginThrottle(Base):
    """Failed log-ins counted under one key: an account (``account:<e-mail>``) or a client address
    (``address:<address>``). See :mod:`survey_app.accounts.services.logins`."""

    __tablename__ = "login_throttles"

    key: Mapped[str] = mapped_column(String(320), primary_key=True)
    failures: Mapped[int]
    last_failure_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LoginAddress(Base):
    """A client address (an IPv6 /64 network) from which a user logged in: their usual addresses,
    where the limit on their account does not apply."""

    __tablename__ = "login_addresses"

    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), primary_key=True)
    address: Mapped[str] = mapped_column(String(64), primary_key=True)
    last_login_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class AuditLogReadOnly(RuntimeError):
    """Audit events are never changed or deleted through the application."""


class AuditEvent(Base):
    __tablename__ = "audit_events"

    id: Mapped[int] = mapped_column(primary_key=True)
    occurred_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), index=True
    )
    actor_label: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(80), index=True)
    object_type: Mapped[str] = mapped_column(String(80), default="")
    object_id: Mapped[str] = mapped_column(String(80), default="")
    before: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    after: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


@event.listens_for(AuditEvent, "before_update")
@event.listens_for(AuditEvent, "before_delete")
def _refuse_change(_mapper: Any, _connection: Any, target: AuditEvent) -> None:
    raise AuditLogReadOnly(f"audit event {target.id} cannot be changed or deleted")
