"""Weighting schemes (named, versioned specifications; their computed weights and diagnostics)
and the API tokens of the statistics API."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.accounts.models import User
from survey_app.core.models import Base, enum_type, utcnow
from survey_app.projects.models import SurveyProject


class WeightingScheme(Base):
    __tablename__ = "weighting_schemes"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_weighting_schemes_project_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(120))
    description: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    project: Mapped[SurveyProject] = relationship()
    versions: Mapped[list[WeightingSchemeVersion]] = relationship(
        back_populates="scheme", order_by="WeightingSchemeVersion.number", cascade="all, delete-orphan"
    )


class WeightingSchemeVersion(Base):
    __tablename__ = "weighting_scheme_versions"
    __table_args__ = (UniqueConstraint("scheme_id", "number", name="uq_weighting_scheme_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scheme_id: Mapped[int] = mapped_column(ForeignKey("weighting_schemes.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    spec: Mapped[dict[str, Any]] = mapped_column(JSON)
    spec_sha256: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    scheme: Mapped[WeightingScheme] = relationship(back_populates="versions")
    runs: Mapped[list[WeightRun]] = relationship(
        back_populates="version", order_by="WeightRun.id", cascade="all, delete-orphan"
    )


class RunStatus(enum.StrEnum):
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class WeightRun(Base):
    """One computation of a scheme version on the data of that moment."""

    __tablename__ = "weight_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("weighting_scheme_versions.id", ondelete="CASCADE"), index=True)
    status: Mapped[RunStatus] = mapped_column(enum_type(RunStatus, "weight_run_status"))
    computed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    computed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    data_sha256: Mapped[str] = mapped_column(String(64), default="")
    weights_sha256: Mapped[str] = mapped_column(String(64), default="")
    respondents: Mapped[int] = mapped_column(Integer, default=0)
    replicates: Mapped[int] = mapped_column(Integer, default=0)
    diagnostics: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str] = mapped_column(Text, default="")

    version: Mapped[WeightingSchemeVersion] = relationship(back_populates="runs")


class ResponseWeight(Base):
    """The final weight of one response in one run (``replicate_weights``: list or null)."""

    __tablename__ = "response_weights"

    run_id: Mapped[int] = mapped_column(ForeignKey("weight_runs.id", ondelete="CASCADE"), primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), primary_key=True, index=True)
    base_weight: Mapped[float] = mapped_column(Float)
    weight: Mapped[float] = mapped_column(Float)
    replicate_weights: Mapped[list[float] | None] = mapped_column(JSON)


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
