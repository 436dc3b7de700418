"""Users: creation, password checks, look-ups."""

from __future__ import annotations

import re
from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash
from zxcvbn import zxcvbn

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import audit
from survey_app.core.errors import Conflict, ValidationFailed
from survey_app.core.models import utcnow

MIN_PASSWORD_LENGTH = 10

# zxcvbn's score (0-4) of how hard a password is to guess; 3 is "safely unguessable" (on the order
# of 10^8 guesses or more): common and breached passwords, words with a few digits, keyboard
# patterns, repeats, dates and the user's own name or e-mail score lower. zxcvbn ships its word
# and password lists, so the check works offline.
MIN_PASSWORD_SCORE = 3
_SCORED_LENGTH = 72  # zxcvbn's limit; a longer password is judged by its beginning


_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


# A hash to compare against when the e-mail is unknown, so both paths take the same time.
_DUMMY_HASH = generate_password_hash("not-a-real-password")


def hash_password(password: str) -> str:
    """scrypt via werkzeug (salted, memory-hard)."""
    return generate_password_hash(password, method="scrypt")


def password_problems(password: str, personal: Iterable[str] = ()) -> list[str]:
    """Why ``password`` may not be used (in the user's language), or ``[]``. ``personal``: the
    account's e-mail, name, ... which a password should not be made of."""
    if len(password) < MIN_PASSWORD_LENGTH:
        return [_("must be at least %(count)d characters", count=MIN_PASSWORD_LENGTH)]
    hints = ["strata"]
    for value in personal:
        hints += [value, *re.split(r"[\W_]+", value.lower())]
    if zxcvbn(password[:_SCORED_LENGTH], user_inputs=[h for h in hints if h])["score"] < MIN_PASSWORD_SCORE:
        return [_("is too easy to guess: common passwords, words with a few digits, keyboard patterns, repeats, dates and your own name or e-mail are tried first. Use a longer phrase of several unrelated words.")]
    return []


def normalise_email(email: str) -> str:
    return email.strip().lower()


def get_by_email(session: Session, email: str) -> User | None:
    return session.scalars(
        select(User).where(func.lower(User.email) == normalise_email(email))
    ).one_or_none()


def create_user(
    session: Session,
    *,
    email: str,
    password: str,
    role: Role | str,
    display_name: str | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> User:
    email = normalise_email(email)
    errors: dict[str, list[str]] = {}
    if not _EMAIL.match(email):
        errors["email"] = [_("%(value)s is not an e-mail address", value=repr(email))]
    if problems := password_problems(password, (email, display_name or "")):
        errors["password"] = problems
    try:
        role = Role(role)
    except ValueError:
        errors["role"] = [_("%(value)s is not one of %(choices)s", value=repr(role), choices=", ".join(r.value for r in Role))]
    if errors:
        raise ValidationFailed(_("The user could not be created."), errors)
    if get_by_email(session, email) is not None:
        raise Conflict(_("A user with e-mail %(email)s already exists.", email=email), {"email": [_("already taken")]})
    user = User(
        email=email,
        display_name=display_name or email.split("@", 1)[0],
        password_hash=hash_password(password),
        role=Role(role),
    )
    session.add(user)
    session.flush()
    audit.record(
        session,
        "user.create",
        actor=actor,
        actor_label=actor_label,
        object_type="user",
        object_id=user.id,
        after=audit.snapshot(user),
    )
    return user


_SESSION_ID = re.compile(r"([0-9]{1,18}):([0-9]{1,18})")


def session_user(session: Session, session_id: str) -> User | None:
    """The user a log-in session names (``User.get_id``), or ``None`` when the user is unknown or
    deactivated, or their sessions were ended since (:func:`end_sessions`)."""
    match = _SESSION_ID.fullmatch(session_id)
    if match is None:
        return None
    user = session.get(User, int(match[1]))
    if user is None or not user.is_active or user.session_version != int(match[2]):
        return None
    return user


def end_sessions(session: Session, user: User) -> None:
    """End every log-in session of ``user``: the copies of their cookies no longer log anyone in."""
    user.session_version = User.session_version + 1  # type: ignore[assignment]  # atomic in the database
    session.flush()


def authenticate(session: Session, email: str, password: str) -> User | None:
    """The active user with this e-mail and password, or ``None``."""
    user = get_by_email(session, email)
    if user is None:
        check_password_hash(_DUMMY_HASH, password)
        return None
    if not user.is_active or not check_password_hash(user.password_hash, password):
        return None
    user.last_login_at = utcnow()
    return user
