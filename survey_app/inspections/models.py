"""Random inspection draws (双随机、一公开): frozen registers of units and inspectors, and seeded draws."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.core.models import Base, enum_type, utcnow


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
