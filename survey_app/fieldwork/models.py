"""Sampling frames, sample draws and the units they selected; invitations (personal single-use
tokens and open links)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.core.models import Base, Timestamped, enum_type, utcnow
from survey_app.projects.models import SurveyProject


class FrameStatus(enum.StrEnum):
    IMPORTING = "importing"
    READY = "ready"
    FAILED = "failed"


class SamplingFrame(Timestamped, Base):
    """A list of population units uploaded for a survey project.

    ``columns`` records how the uploaded columns were mapped: ``unit_id``, ``stratum``, ``size``,
    ``contact`` (list) and ``attributes`` (list). Contact fields are personal data: they are kept
    in :attr:`FrameUnit.contact`, apart from the analysis attributes, and never exported by the
    statistics API.
    """

    __tablename__ = "sampling_frames"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    file_sha256: Mapped[str] = mapped_column(String(64), default="")
    columns: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    rows_imported: Mapped[int] = mapped_column(Integer, default=0)
    error: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[FrameStatus] = mapped_column(enum_type(FrameStatus, "frame_status"), default=FrameStatus.IMPORTING)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    project: Mapped[SurveyProject] = relationship()


class FrameUnit(Base):
    __tablename__ = "frame_units"
    __table_args__ = (
        UniqueConstraint("frame_id", "unit_key", name="uq_frame_units_frame_unit_key"),
        Index("ix_frame_units_frame_stratum", "frame_id", "stratum"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    frame_id: Mapped[int] = mapped_column(ForeignKey("sampling_frames.id", ondelete="CASCADE"))
    row_number: Mapped[int] = mapped_column(Integer)
    unit_key: Mapped[str] = mapped_column(String(120))
    stratum: Mapped[str | None] = mapped_column(String(200))
    size: Mapped[float | None] = mapped_column(Float)
    attributes: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    contact: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class SampleDraw(Base):
    """One logged draw from a frame. A new draw is a new row; draws are never redone in place.

    ``manifest`` is the :mod:`sampling` manifest (seed, method, allocation table, frame hash,
    library version), enough to replay the draw.
    """

    __tablename__ = "sample_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    frame_id: Mapped[int] = mapped_column(ForeignKey("sampling_frames.id", ondelete="RESTRICT"), index=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    method: Mapped[str] = mapped_column(String(40))
    allocation_method: Mapped[str] = mapped_column(String(40), default="")
    seed: Mapped[int] = mapped_column(Integer)
    sample_size: Mapped[int] = mapped_column(Integer)
    allocation: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    frame: Mapped[SamplingFrame] = relationship()
    units: Mapped[list[SampleUnit]] = relationship(back_populates="draw", cascade="all, delete-orphan")


class SampleUnit(Base):
    """A selected unit with its design information (``stage`` holds per-stage columns for
    multi-stage designs: inclusion probabilities and population counts per stage)."""

    __tablename__ = "sample_units"
    __table_args__ = (UniqueConstraint("draw_id", "frame_unit_id", name="uq_sample_units_draw_unit"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("sample_draws.id", ondelete="CASCADE"), index=True)
    frame_unit_id: Mapped[int] = mapped_column(ForeignKey("frame_units.id", ondelete="RESTRICT"), index=True)
    stratum: Mapped[str | None] = mapped_column(String(200))
    stratum_population: Mapped[int | None] = mapped_column(Integer)
    inclusion_probability: Mapped[float] = mapped_column(Float)
    design_weight: Mapped[float] = mapped_column(Float)
    stage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    draw: Mapped[SampleDraw] = relationship(back_populates="units")
    frame_unit: Mapped[FrameUnit] = relationship()


class InvitationKind(enum.StrEnum):
    PERSONAL = "personal"  # one sample unit, one response
    OPEN = "open"  # an open link (e.g. per county QR code), many responses


class InvitationStatus(enum.StrEnum):
    ISSUED = "issued"
    STARTED = "started"
    SUBMITTED = "submitted"
    REFUSED = "refused"
    NOT_REACHED = "not_reached"
    REVOKED = "revoked"


class Invitation(Base):
    """The link a respondent opens: ``/r/<token>``.

    Personal invitations belong to one sample unit and accept one submitted response.
    Open links carry ``label`` and ``attributes`` (e.g. the county) for every response they
    collect. Tokens are random (``secrets.token_urlsafe``), unique, and only grant answering
    this survey, so they are kept in clear to allow re-exporting the mail-merge list.
    """

    __tablename__ = "invitations"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    token: Mapped[str] = mapped_column(String(64), unique=True)
    kind: Mapped[InvitationKind] = mapped_column(enum_type(InvitationKind, "invitation_kind"))
    status: Mapped[InvitationStatus] = mapped_column(
        enum_type(InvitationStatus, "invitation_status"), default=InvitationStatus.ISSUED
    )
    sample_unit_id: Mapped[int | None] = mapped_column(ForeignKey("sample_units.id", ondelete="CASCADE"), unique=True)
    label: Mapped[str] = mapped_column(String(200), default="")
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    last_sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    sample_unit: Mapped[SampleUnit | None] = relationship()
