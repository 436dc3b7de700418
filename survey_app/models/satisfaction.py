"""Public satisfaction evaluations and random inspection draws (双随机、一公开).

- population tables (county x sex x age group x urban/rural counts) for post-stratification;
- quota cells with atomic fill counters (a response counts against every cell it matches);
- composite index configurations (items, equal or expert weights, the method recorded);
- estimation runs (what was computed, how, and the stored result tables);
- per-county open links;
- inspection registers (frozen snapshots: rows and a content hash) and inspection draws.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base, enum_type, utcnow
from survey_app.models.invitations import Invitation

ANY = ""  # a quota dimension that is not restricted


class PopulationTable(Base):
    """Population counts uploaded for a project (one row per county x sex x age group x area)."""

    __tablename__ = "population_tables"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    sha256: Mapped[str] = mapped_column(String(64), default="")
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    cells: Mapped[list[PopulationCell]] = relationship(cascade="all, delete-orphan", order_by="PopulationCell.id")


class PopulationCell(Base):
    __tablename__ = "population_cells"
    __table_args__ = (
        UniqueConstraint("table_id", "county", "sex", "age_group", "area", name="uq_population_cells_cell"),
        CheckConstraint("count >= 0", name="count_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    table_id: Mapped[int] = mapped_column(ForeignKey("population_tables.id", ondelete="CASCADE"), index=True)
    county: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(20))
    age_group: Mapped[str] = mapped_column(String(20))
    area: Mapped[str] = mapped_column(String(20))
    count: Mapped[int] = mapped_column(Integer)


class QuotaCell(Base):
    """A quota: ``target`` completed responses matching the cell; ``""`` in a dimension matches any.

    ``filled`` only changes through a conditional ``UPDATE ... SET filled = filled + 1 WHERE
    filled < target`` (:mod:`survey_app.services.quotas`), so it never exceeds ``target``.
    """

    __tablename__ = "quota_cells"
    __table_args__ = (
        UniqueConstraint("project_id", "county", "sex", "age_group", "area", name="uq_quota_cells_cell"),
        CheckConstraint("filled >= 0 AND filled <= target", name="filled_within_target"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    county: Mapped[str] = mapped_column(String(50))
    sex: Mapped[str] = mapped_column(String(20), default=ANY)
    age_group: Mapped[str] = mapped_column(String(20), default=ANY)
    area: Mapped[str] = mapped_column(String(20), default=ANY)
    target: Mapped[int] = mapped_column(Integer)
    filled: Mapped[int] = mapped_column(Integer, default=0)


class CountyLink(Base):
    """The open link (QR code) published for one county."""

    __tablename__ = "county_links"
    __table_args__ = (UniqueConstraint("project_id", "county", name="uq_county_links_county"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    county: Mapped[str] = mapped_column(String(50))
    invitation_id: Mapped[int] = mapped_column(ForeignKey("invitations.id", ondelete="CASCADE"), unique=True)

    invitation: Mapped[Invitation] = relationship()


class IndexMethod(enum.StrEnum):
    EQUAL = "equal"
    EXPERT = "expert"
    LOADINGS = "loadings"  # squared first-principal-component loadings, fixed when saved


class IndexConfig(Base):
    """Which items form the composite index and with which weights (normalised when used)."""

    __tablename__ = "index_configs"
    __table_args__ = (UniqueConstraint("project_id", "name", name="uq_index_configs_name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    method: Mapped[IndexMethod] = mapped_column(enum_type(IndexMethod, "index_method"), default=IndexMethod.EQUAL)
    items: Mapped[list[str]] = mapped_column(JSON, default=list)
    weights: Mapped[dict[str, float]] = mapped_column(JSON, default=dict)
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class SatisfactionRun(Base):
    """One estimation: inputs, the adjustment actually used, and the result tables (JSON records)."""

    __tablename__ = "satisfaction_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    population_table_id: Mapped[int | None] = mapped_column(ForeignKey("population_tables.id", ondelete="SET NULL"))
    index_config_id: Mapped[int | None] = mapped_column(ForeignKey("index_configs.id", ondelete="SET NULL"))
    method: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    respondents: Mapped[int] = mapped_column(Integer, default=0)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    population_table: Mapped[PopulationTable | None] = relationship()
    index_config: Mapped[IndexConfig | None] = relationship()


class RegisterKind(enum.StrEnum):
    UNITS = "units"
    INSPECTORS = "inspectors"


class InspectionRegister(Base):
    """A frozen snapshot of a register: the rows as uploaded and the SHA-256 of their content."""

    __tablename__ = "inspection_registers"

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[RegisterKind] = mapped_column(enum_type(RegisterKind, "register_kind"))
    name: Mapped[str] = mapped_column(String(200))
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    columns: Mapped[list[str]] = mapped_column(JSON, default=list)
    rows: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    sha256: Mapped[str] = mapped_column(String(64))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    frozen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class InspectionDraw(Base):
    """A seeded draw from two frozen registers; ``published`` makes ``/inspections/<slug>`` public."""

    __tablename__ = "inspection_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(200))
    slug: Mapped[str] = mapped_column(String(40), unique=True)
    units_register_id: Mapped[int] = mapped_column(ForeignKey("inspection_registers.id", ondelete="RESTRICT"), index=True)
    inspectors_register_id: Mapped[int] = mapped_column(ForeignKey("inspection_registers.id", ondelete="RESTRICT"), index=True)
    seed: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    units: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    assignments: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    cells: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    results: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    published: Mapped[bool] = mapped_column(Boolean, default=False)
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    units_register: Mapped[InspectionRegister] = relationship(foreign_keys=[units_register_id])
    inspectors_register: Mapped[InspectionRegister] = relationship(foreign_keys=[inspectors_register_id])
