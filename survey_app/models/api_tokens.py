"""API tokens for the statistics API (``Authorization: Bearer <token>``).

The token itself is shown once at creation; only its SHA-256 digest is stored (the token has
256 bits of entropy, so a plain digest is enough). A token belongs to a user (its owner: the
audit log records API reads under the owner's name), carries scopes, and is limited to the
survey projects listed in :class:`ApiTokenSurvey` unless ``all_surveys`` is set.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base, utcnow
from survey_app.models.surveys import SurveyProject
from survey_app.models.users import User

#: Scopes a token may carry, with what they allow.
API_SCOPES: dict[str, str] = {
    "surveys:read": "List surveys, read codebooks, response rates and weighting schemes.",
    "estimates:read": "Compute weighted estimates with confidence intervals.",
    "microdata:read": "Download de-identified microdata (one row per response).",
    "weighting:write": "Create weighting schemes and compute weights.",
    "graduates:read": "Read the graduate destination register.",
}
DEFAULT_SCOPES: tuple[str, ...] = ("surveys:read", "estimates:read")


class ApiToken(Base):
    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    prefix: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON, default=list)
    all_surveys: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    expires_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    user: Mapped[User] = relationship(foreign_keys=[user_id])
    surveys: Mapped[list[ApiTokenSurvey]] = relationship(
        back_populates="token", cascade="all, delete-orphan"
    )

    @property
    def project_ids(self) -> set[int]:
        return {link.project_id for link in self.surveys}

    def has_scope(self, scope: str) -> bool:
        return scope in (self.scopes or [])

    def allows_project(self, project_id: int) -> bool:
        return self.all_surveys or project_id in self.project_ids

    def is_usable_at(self, moment: datetime) -> bool:
        if self.revoked_at is not None:
            return False
        if self.expires_at is None:
            return True
        expires = self.expires_at
        if expires.tzinfo is None:  # SQLite returns naive datetimes
            expires = expires.replace(tzinfo=moment.tzinfo)
        return moment < expires

    def describe(self) -> dict[str, Any]:
        """Audit-friendly description (never the secret)."""
        return {
            "id": self.id,
            "name": self.name,
            "prefix": self.prefix,
            "scopes": list(self.scopes or []),
            "all_surveys": self.all_surveys,
            "project_ids": sorted(self.project_ids),
        }


class ApiTokenSurvey(Base):
    __tablename__ = "api_token_surveys"

    token_id: Mapped[int] = mapped_column(ForeignKey("api_tokens.id", ondelete="CASCADE"), primary_key=True)
    project_id: Mapped[int] = mapped_column(
        ForeignKey("survey_projects.id", ondelete="CASCADE"), primary_key=True, index=True
    )

    token: Mapped[ApiToken] = relationship(back_populates="surveys")
    project: Mapped[SurveyProject] = relationship()
