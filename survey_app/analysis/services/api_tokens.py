"""API tokens: creation (shown once), authentication, revocation, look-ups."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import audit
from survey_app.analysis.models import API_SCOPES, ApiToken, ApiTokenSurvey
from survey_app.core.errors import Forbidden, NotFound, Unauthorized, ValidationFailed
from survey_app.core.models import utcnow
from survey_app.projects.models import SurveyProject

TOKEN_PREFIX = "strata_"


#: Roles that may own API tokens.
TOKEN_ROLES = (Role.ADMIN, Role.STATISTICIAN)


@dataclass(frozen=True)
class IssuedToken:
    """A new token and its secret; the secret is not stored and cannot be shown again."""

    token: ApiToken
    secret: str


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def create_token(
    session: Session,
    *,
    owner: User,
    name: str,
    scopes: Iterable[str],
    project_ids: Iterable[int] = (),
    all_surveys: bool = False,
    expires_at: datetime | None = None,
    actor: User | None = None,
    actor_label: str | None = None,
) -> IssuedToken:
    """Create a token for ``owner`` (a statistician or admin). The caller commits."""
    errors: dict[str, list[str]] = {}
    name = (name or "").strip()
    if not name or len(name) > 120:
        errors["name"] = ["must be 1 to 120 characters"]
    scope_list = sorted(set(scopes))
    unknown = [s for s in scope_list if s not in API_SCOPES]
    if unknown:
        errors["scopes"] = [f"unknown scope {s!r}; known: {', '.join(API_SCOPES)}" for s in unknown]
    elif not scope_list:
        errors["scopes"] = ["choose at least one scope"]
    if owner.role not in TOKEN_ROLES or not owner.is_active:
        errors["owner"] = ["only active statisticians and administrators may own API tokens"]
    if actor is not None and actor.role != Role.ADMIN and actor.id != owner.id:
        raise Forbidden("Only administrators may create tokens for other users.")
    ids = sorted({int(i) for i in project_ids})
    if ids:
        found = set(session.scalars(select(SurveyProject.id).where(SurveyProject.id.in_(ids))))
        missing = [i for i in ids if i not in found]
        if missing:
            errors["project_ids"] = [f"survey project {i} does not exist" for i in missing]
    elif not all_surveys:
        errors["project_ids"] = ["choose at least one survey project (or all surveys)"]
    if expires_at is not None and expires_at <= utcnow():
        errors["expires_at"] = ["must be in the future"]
    if errors:
        raise ValidationFailed("The API token is not valid.", errors)

    secret = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken(
        user_id=owner.id,
        name=name,
        prefix=secret[: len(TOKEN_PREFIX) + 6],
        token_hash=digest(secret),
        scopes=scope_list,
        all_surveys=all_surveys,
        created_by_id=actor.id if actor is not None else None,
        expires_at=expires_at,
    )
    token.surveys = [ApiTokenSurvey(project_id=i) for i in ids]
    session.add(token)
    session.flush()
    audit.record(
        session, "api_token.create", actor=actor, actor_label=actor_label,
        object_type="api_token", object_id=token.id, after=token.describe(),
        details={"owner": owner.email},
    )
    return IssuedToken(token=token, secret=secret)


def authenticate(session: Session, header: str | None) -> ApiToken:
    """The token named by an ``Authorization: Bearer ...`` header; records its last use.

    Raises :class:`Unauthorized` when the header is missing or malformed, or the token is
    unknown, revoked, expired or owned by a deactivated user.
    """
    if not header:
        raise Unauthorized("An API token is required: send 'Authorization: Bearer <token>'.")
    scheme, _, secret = header.strip().partition(" ")
    secret = secret.strip()
    if scheme.lower() != "bearer" or not secret:
        raise Unauthorized("The Authorization header must be 'Bearer <token>'.")
    hashed = digest(secret)
    token = session.scalars(
        select(ApiToken).where(ApiToken.token_hash == hashed).options(selectinload(ApiToken.surveys))
    ).one_or_none()
    # compare_digest keeps the final check constant-time even though the lookup is by digest
    if token is None or not hmac.compare_digest(token.token_hash, hashed):
        raise Unauthorized("The API token is not valid.")
    now = utcnow()
    if token.revoked_at is not None:
        raise Unauthorized("The API token has been revoked.")
    if not token.is_usable_at(now):
        raise Unauthorized("The API token has expired.")
    if not token.user.is_active or token.user.role not in TOKEN_ROLES:
        raise Unauthorized("The owner of this API token may no longer use the API.")
    token.last_used_at = now
    return token


def require_scope(token: ApiToken, scope: str) -> None:
    if not token.has_scope(scope):
        raise Forbidden(f"This API token lacks the scope {scope!r}.", {"scope": [scope]})


def require_project(token: ApiToken, project: SurveyProject) -> None:
    if not token.allows_project(project.id):
        raise Forbidden(f"This API token does not grant access to survey {project.code!r}.")


def allowed_projects(session: Session, token: ApiToken) -> list[SurveyProject]:
    query = select(SurveyProject).order_by(SurveyProject.id)
    if not token.all_surveys:
        query = query.where(SurveyProject.id.in_(select(ApiTokenSurvey.project_id).where(ApiTokenSurvey.token_id == token.id)))
    return list(session.scalars(query))


def list_tokens(session: Session, viewer: User) -> list[ApiToken]:
    """Admins see every token; statisticians their own."""
    query = select(ApiToken).options(selectinload(ApiToken.surveys), selectinload(ApiToken.user)).order_by(ApiToken.id.desc())
    if viewer.role != Role.ADMIN:
        query = query.where(ApiToken.user_id == viewer.id)
    return list(session.scalars(query))


def all_tokens(session: Session) -> list[ApiToken]:
    """Every token, newest first (command line)."""
    query = select(ApiToken).options(selectinload(ApiToken.surveys), selectinload(ApiToken.user)).order_by(ApiToken.id.desc())
    return list(session.scalars(query))


def get_token(session: Session, token_id: int, viewer: User) -> ApiToken:
    token = session.get(ApiToken, token_id)
    if token is None or (viewer.role != Role.ADMIN and token.user_id != viewer.id):
        raise NotFound(f"API token {token_id} does not exist.")
    return token


def revoke_token(session: Session, token: ApiToken, *, actor: User | None = None, actor_label: str | None = None) -> ApiToken:
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
        audit.record(
            session, "api_token.revoke", actor=actor, actor_label=actor_label,
            object_type="api_token", object_id=token.id, after=token.describe(),
        )
    return token


def token_owners(session: Session, viewer: User) -> list[User]:
    """Who ``viewer`` may create tokens for: admins pick any active statistician or admin."""
    if viewer.role != Role.ADMIN:
        return [viewer]
    return list(session.scalars(select(User).where(User.is_active.is_(True), User.role.in_(TOKEN_ROLES)).order_by(User.email)))


def issue_from_form(session: Session, viewer: User, values: dict[str, object]) -> IssuedToken:
    """Create a token from the admin page's fields (owner id, name, scopes, surveys, days)."""
    errors: dict[str, list[str]] = {}
    owner_id = values.get("owner_id") or viewer.id
    owner = session.get(User, int(str(owner_id))) if str(owner_id).isdigit() else None
    if owner is None or owner not in token_owners(session, viewer):
        errors["owner_id"] = ["choose a statistician or administrator"]
    days = values.get("expires_in_days")
    expires_at = None
    if days not in (None, ""):
        try:
            count = int(str(days))
        except ValueError:
            count = 0
        if not 1 <= count <= 3650:
            errors["expires_in_days"] = ["enter a number of days from 1 to 3650, or leave it empty"]
        else:
            from datetime import timedelta

            expires_at = utcnow() + timedelta(days=count)
    if errors:
        raise ValidationFailed("The API token is not valid.", errors)
    assert owner is not None
    raw_ids = values.get("project_ids") or []
    project_ids = [int(str(i)) for i in raw_ids if str(i).isdigit()] if isinstance(raw_ids, list) else []
    return create_token(
        session, owner=owner, name=str(values.get("name") or ""), scopes=list(values.get("scopes") or []),  # type: ignore[call-overload]
        project_ids=project_ids, all_surveys=bool(values.get("all_surveys")), expires_at=expires_at, actor=viewer,
    )
