"""Weighting schemes: named, versioned specifications; their computed weights and diagnostics.

A scheme version's ``spec`` is frozen once saved (a change is a new version). Computing a version
(:class:`WeightRun`) stores one final weight per response (:class:`ResponseWeight`, with
replicate weights when the scheme asks for them), the diagnostics, and the SHA-256 of the input
data, so that a run can be checked for reproducibility: same version + same data -> same weights.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base, enum_type, utcnow
from survey_app.models.surveys import SurveyProject


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
