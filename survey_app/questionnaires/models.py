"""Questionnaires and their versions. A published version is frozen; responses point to it."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, LargeBinary, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.core.models import Base, Timestamped, enum_type, utcnow
from survey_app.projects.models import SurveyProject


class VersionStatus(enum.StrEnum):
    DRAFT = "draft"
    PUBLISHED = "published"


class QuestionnaireFrozen(RuntimeError):
    """A published version's definition cannot change; edit a new draft instead."""


class Questionnaire(Timestamped, Base):
    """The questionnaire of a survey project (one per project), with its versions."""

    __tablename__ = "questionnaires"

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), unique=True)
    title: Mapped[str] = mapped_column(String(300), default="")

    project: Mapped[SurveyProject] = relationship()
    versions: Mapped[list[QuestionnaireVersion]] = relationship(
        back_populates="questionnaire", order_by="QuestionnaireVersion.number", cascade="all, delete-orphan"
    )


class QuestionnaireVersion(Base):
    """One version: the validated definition (JSON) and, when imported, the original XLSForm."""

    __tablename__ = "questionnaire_versions"
    __table_args__ = (UniqueConstraint("questionnaire_id", "number", name="uq_questionnaire_versions_number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    questionnaire_id: Mapped[int] = mapped_column(ForeignKey("questionnaires.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    status: Mapped[VersionStatus] = mapped_column(enum_type(VersionStatus, "questionnaire_version_status"), default=VersionStatus.DRAFT)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    source_filename: Mapped[str] = mapped_column(String(300), default="")
    source_xlsform: Mapped[bytes | None] = mapped_column(LargeBinary)
    source_sha256: Mapped[str] = mapped_column(String(64), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    published_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    published_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    questionnaire: Mapped[Questionnaire] = relationship(back_populates="versions")

    @property
    def is_published(self) -> bool:
        return self.status == VersionStatus.PUBLISHED

    def replace_definition(self, definition: dict[str, Any], *, filename: str, source: bytes | None, sha256: str) -> None:
        if self.is_published:
            raise QuestionnaireFrozen(f"version {self.number} is published and frozen")
        self.definition = definition
        self.source_filename = filename
        self.source_xlsform = source
        self.source_sha256 = sha256
