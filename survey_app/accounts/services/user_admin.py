"""User administration for admins: create users, change roles, deactivate and reactivate."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import audit, users
from survey_app.core.errors import Conflict, NotFound, ValidationFailed


def list_users(session: Session) -> list[User]:
    return list(session.scalars(select(User).order_by(User.is_active.desc(), User.role, User.email)))


def get_user(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound(f"User {user_id} does not exist.")
    return user


def create(session: Session, data: Mapping[str, Any], *, actor: User) -> User:
    return users.create_user(
        session,
        email=str(data.get("email") or ""),
        password=str(data.get("password") or ""),
        role=str(data.get("role") or ""),
        display_name=str(data.get("display_name") or "").strip() or None,
        actor=actor,
    )


def _active_admins(session: Session) -> int:
    return int(session.scalar(select(func.count(User.id)).where(User.role == Role.ADMIN, User.is_active.is_(True))) or 0)


def update(session: Session, user: User, data: Mapping[str, Any], *, actor: User) -> User:
    """Change role, display name or active flag; the last active admin cannot be demoted or deactivated."""
    before = audit.snapshot(user)
    errors: dict[str, list[str]] = {}
    role = user.role
    if "role" in data:
        try:
            role = Role(str(data["role"]))
        except ValueError:
            errors["role"] = [f"{data['role']!r} is not one of {', '.join(r.value for r in Role)}"]
    active = bool(data.get("is_active", user.is_active))
    name = str(data.get("display_name", user.display_name) or "").strip()
    if not name or len(name) > 120:
        errors["display_name"] = ["must be 1 to 120 characters"]
    if errors:
        raise ValidationFailed("The user could not be changed.", errors)
    losing_admin = user.role == Role.ADMIN and user.is_active and (role != Role.ADMIN or not active)
    if losing_admin and _active_admins(session) <= 1:
        raise Conflict("The last active administrator cannot be demoted or deactivated.", {"role": ["keep at least one active administrator"]})
    ends_sessions = role != user.role or active != user.is_active
    user.role, user.is_active, user.display_name = role, active, name
    session.flush()
    if ends_sessions:  # a session must not keep a role (or an account) that was taken away
        users.end_sessions(session, user)
    after = audit.snapshot(user)
    if after != before:
        audit.record(session, "user.update", actor=actor, object_type="user", object_id=user.id, before=before, after=after)
    return user


def reset_password(session: Session, user: User, password: str, *, actor: User) -> None:
    if problems := users.password_problems(password, (user.email, user.display_name)):
        raise ValidationFailed(_("The password was not changed."), {"password": problems})
    user.password_hash = users.hash_password(password)
    users.end_sessions(session, user)  # whoever knew the old password is logged out
    audit.record(session, "user.password_reset", actor=actor, object_type="user", object_id=user.id)
