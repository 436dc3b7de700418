"""Public satisfaction evaluations.

- population tables (county x sex x age group x urban/rural counts) for post-stratification;
- the open link (QR code) of each county;
- index configurations (equal, expert or model weights of the indicators);
- estimation runs with their stored results."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.core.models import Base, enum_type, utcnow
from survey_app.fieldwork.models import Invitation


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
