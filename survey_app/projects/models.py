"""Survey projects and their statutory labels, and who may work on them: per-project grants to
designers and reviewer assignments to review levels."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Date,
    DateTime,
    ForeignKey,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.accounts.models import User
from survey_app.core.models import Base, Timestamped, enum_type, utcnow


class SurveyStatus(enum.StrEnum):
    DRAFT = "draft"
    ACTIVE = "active"
    CLOSED = "closed"
    ARCHIVED = "archived"


class SurveyProject(Timestamped, Base):
    """A statistical survey project.

    The statutory labels (表号, 制定机关, 批准文号/备案文号, 有效期至) are printed on every
    questionnaire page; a project past ``valid_until`` accepts no responses.
    """

    __tablename__ = "survey_projects"
    __table_args__ = (
        CheckConstraint(
            "fieldwork_start IS NULL OR fieldwork_end IS NULL OR fieldwork_start <= fieldwork_end",
            name="fieldwork_window",
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    title: Mapped[str] = mapped_column(String(300))
    title_en: Mapped[str] = mapped_column(String(300), default="")
    description: Mapped[str] = mapped_column(Text, default="")
    form_number: Mapped[str] = mapped_column(String(100))
    issuing_authority: Mapped[str] = mapped_column(String(200))
    approval_number: Mapped[str] = mapped_column(String(100))
    valid_until: Mapped[date] = mapped_column(Date)
    target_population: Mapped[str] = mapped_column(String(300), default="")
    indicators: Mapped[list[str]] = mapped_column(JSON, default=list)
    fieldwork_start: Mapped[date | None] = mapped_column(Date)
    fieldwork_end: Mapped[date | None] = mapped_column(Date)
    status: Mapped[SurveyStatus] = mapped_column(
        enum_type(SurveyStatus, "survey_status"), default=SurveyStatus.DRAFT
    )
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))

    owner: Mapped[User | None] = relationship()

    def is_valid_on(self, day: date) -> bool:
        """The statutory approval is still in force on ``day``."""
        return day <= self.valid_until

    def accepts_responses_on(self, day: date) -> bool:
        """Active, approved and inside the fieldwork window on ``day``."""
        return accepts_responses(self.status, self.valid_until, self.fieldwork_start, self.fieldwork_end, day)


def accepts_responses(status: str, valid_until: date, fieldwork_start: date | None, fieldwork_end: date | None,
                      day: date) -> bool:
    """A survey with these columns accepts responses on ``day``: active, its statutory approval still
    in force (``valid_until``) and inside the fieldwork window."""
    if status != SurveyStatus.ACTIVE or day > valid_until:
        return False
    if fieldwork_start is not None and day < fieldwork_start:
        return False
    return fieldwork_end is None or day <= fieldwork_end


class ProjectGrant(Base):
    """``user`` (a designer) may manage ``project`` as if they owned it."""

    __tablename__ = "project_grants"
    __table_args__ = (UniqueConstraint("project_id", "user_id", name="uq_project_grants_project_user"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    granted_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ReviewerAssignment(Base):
    """``user`` reviews the records of ``project`` waiting at ``level``."""

    __tablename__ = "reviewer_assignments"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", "level", name="uq_reviewer_assignments_project_user_level"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    level: Mapped[int]

    user: Mapped[User] = relationship()
