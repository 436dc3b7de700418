"""Graduate destination register (毕业去向), its change history, and graduate sample draws.

The register keeps one row per graduate (pseudonymous ``graduate_key`` per cohort) with the
*current* destination, and every change of destination in :class:`DestinationChange` with its
effective date, so a snapshot at any past date (1 September, year end, ...) can be reproduced.
Identifying fields (name, ID number, phone) are stored only encrypted (``*_enc`` columns, see
:mod:`survey_app.core.personal_data`); analysis tables use the pseudonymous key.

Verification samples and the employment sample survey are :class:`GraduateDraw` rows with their
selected :class:`GraduateSampleUnit` rows (design columns, callback outcomes, survey answers).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Date,
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

from survey_app.core.models import Base, enum_type, utcnow


class DegreeLevel(enum.StrEnum):
    JUNIOR_COLLEGE = "junior_college"  # 专科
    BACHELOR = "bachelor"  # 本科
    MASTER = "master"  # 硕士
    DOCTOR = "doctor"  # 博士


class Sex(enum.StrEnum):
    MALE = "male"
    FEMALE = "female"


class DrawPurpose(enum.StrEnum):
    VERIFICATION = "verification"
    SURVEY = "survey"


class CallbackOutcome(enum.StrEnum):
    CONFIRMED = "confirmed"
    DIFFERENT = "different"  # a different destination, with the verified code
    UNREACHABLE = "unreachable"  # after the configured number of attempts
    REFUSED = "refused"


class SurveyDisposition(enum.StrEnum):
    RESPONDENT = "respondent"
    NONRESPONDENT = "nonrespondent"
    INELIGIBLE = "ineligible"
    UNKNOWN = "unknown"


class Institution(Base):
    """A higher-education institution of the register (the PSU of the employment survey)."""

    __tablename__ = "graduate_institutions"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(40), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(60), default="")  # institution type, e.g. 本科院校
    province: Mapped[str] = mapped_column(String(60), default="")


class Graduate(Base):
    """One graduate of a cohort with the current destination."""

    __tablename__ = "graduates"
    __table_args__ = (
        UniqueConstraint("cohort", "graduate_key", name="uq_graduates_cohort_key"),
        Index("ix_graduates_cohort_institution", "cohort", "institution_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cohort: Mapped[int] = mapped_column(Integer)
    graduate_key: Mapped[str] = mapped_column(String(64))
    institution_id: Mapped[int] = mapped_column(ForeignKey("graduate_institutions.id", ondelete="RESTRICT"))
    college: Mapped[str] = mapped_column(String(200), default="")
    major: Mapped[str] = mapped_column(String(200), default="")
    discipline: Mapped[str] = mapped_column(String(60), default="")
    degree: Mapped[DegreeLevel] = mapped_column(enum_type(DegreeLevel, "degree_level"))
    sex: Mapped[Sex] = mapped_column(enum_type(Sex, "graduate_sex"))
    province: Mapped[str] = mapped_column(String(60), default="")  # province of origin (生源地)
    destination_code: Mapped[str] = mapped_column(String(2))
    employer_name: Mapped[str] = mapped_column(String(300), default="")
    employer_uscc: Mapped[str] = mapped_column(String(18), default="")
    registered_on: Mapped[date] = mapped_column(Date)
    confirmed_on: Mapped[date | None] = mapped_column(Date)
    name_enc: Mapped[str] = mapped_column(Text, default="")
    id_number_enc: Mapped[str] = mapped_column(Text, default="")
    phone_enc: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    institution: Mapped[Institution] = relationship()


class DestinationChange(Base):
    """A destination effective from ``effective_on`` until the next change of the same graduate."""

    __tablename__ = "graduate_destination_changes"
    __table_args__ = (Index("ix_graduate_destination_changes_graduate_effective", "graduate_id", "effective_on"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    graduate_id: Mapped[int] = mapped_column(ForeignKey("graduates.id", ondelete="CASCADE"))
    effective_on: Mapped[date] = mapped_column(Date)
    destination_code: Mapped[str] = mapped_column(String(2))
    employer_name: Mapped[str] = mapped_column(String(300), default="")
    employer_uscc: Mapped[str] = mapped_column(String(18), default="")
    source: Mapped[str] = mapped_column(String(40), default="import")
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)


class GraduateDraw(Base):
    """A seeded, logged draw from the register (verification sample or employment survey)."""

    __tablename__ = "graduate_draws"

    id: Mapped[int] = mapped_column(primary_key=True)
    purpose: Mapped[DrawPurpose] = mapped_column(enum_type(DrawPurpose, "graduate_draw_purpose"), index=True)
    cohort: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(200), default="")
    snapshot_on: Mapped[date] = mapped_column(Date)
    seed: Mapped[int] = mapped_column(Integer)
    sample_size: Mapped[int] = mapped_column(Integer)
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    allocation: Mapped[list[Any]] = mapped_column(JSON, default=list)
    manifest: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))


class GraduateSampleUnit(Base):
    """A sampled graduate: design columns, the callback outcome or the survey answers."""

    __tablename__ = "graduate_sample_units"
    __table_args__ = (UniqueConstraint("draw_id", "graduate_id", name="uq_graduate_sample_units_draw_graduate"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    draw_id: Mapped[int] = mapped_column(ForeignKey("graduate_draws.id", ondelete="CASCADE"), index=True)
    graduate_id: Mapped[int] = mapped_column(ForeignKey("graduates.id", ondelete="RESTRICT"), index=True)
    stratum: Mapped[str] = mapped_column(String(200), default="")
    stratum_population: Mapped[int] = mapped_column(Integer)
    inclusion_probability: Mapped[float] = mapped_column(Float)
    design_weight: Mapped[float] = mapped_column(Float)
    stage: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    reported_code: Mapped[str] = mapped_column(String(2))
    outcome: Mapped[CallbackOutcome | None] = mapped_column(enum_type(CallbackOutcome, "callback_outcome"))
    verified_code: Mapped[str | None] = mapped_column(String(2))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    outcome_note: Mapped[str] = mapped_column(String(500), default="")
    outcome_recorded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    outcome_recorded_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    disposition: Mapped[SurveyDisposition | None] = mapped_column(enum_type(SurveyDisposition, "survey_disposition"))
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    draw: Mapped[GraduateDraw] = relationship()
    graduate: Mapped[Graduate] = relationship()
