"""Data review: the chain of review levels, and each record's review state, decisions (with
reasons) and reviewer edits (keeping the original value). Who reviews which level is a
project assignment (:class:`survey_app.projects.models.ReviewerAssignment`)."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, CheckConstraint, DateTime, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.accounts.models import User
from survey_app.core.models import Base, enum_type, utcnow

MAX_REVIEW_LEVELS = 3


class ReviewLevel(Base):
    """One level of a project's review chain (1 = first review ... the highest = final review)."""

    __tablename__ = "review_levels"
    __table_args__ = (
        UniqueConstraint("project_id", "level", name="uq_review_levels_project_level"),
        CheckConstraint(f"level >= 1 AND level <= {MAX_REVIEW_LEVELS}", name="level_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    level: Mapped[int]
    name: Mapped[str] = mapped_column(String(120))


class ReviewStatus(enum.StrEnum):
    PENDING = "pending"  # waiting at ``level``
    RETURNED = "returned"  # sent back to the respondent to correct
    APPROVED = "approved"  # approved at the final level: counts for estimation
    REJECTED = "rejected"  # excluded


class ReviewDecisionKind(enum.StrEnum):
    APPROVE = "approve"
    RETURN_RESPONDENT = "return_respondent"
    RETURN_PREVIOUS = "return_previous"
    REJECT = "reject"


class ReviewRecord(Base):
    """Where one complete response stands in its project's review chain.

    A complete response without a record waits at level 1; the record is created by the first
    decision. Only ``approved`` records (approved at the final level) count for estimation.
    """

    __tablename__ = "review_records"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), unique=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    level: Mapped[int]
    status: Mapped[ReviewStatus] = mapped_column(enum_type(ReviewStatus, "review_status"), default=ReviewStatus.PENDING, index=True)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)


class ReviewDecision(Base):
    """One decision by a reviewer at a level, with its reason (kept forever, like the audit log)."""

    __tablename__ = "review_decisions"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    level: Mapped[int]
    decision: Mapped[ReviewDecisionKind] = mapped_column(enum_type(ReviewDecisionKind, "review_decision"))
    reason: Mapped[str] = mapped_column(Text, default="")
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    actor: Mapped[User | None] = relationship()


class ReviewEdit(Base):
    """A reviewer's correction of one answer: the original value, the new value and why."""

    __tablename__ = "review_edits"

    id: Mapped[int] = mapped_column(primary_key=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    level: Mapped[int]
    variable: Mapped[str] = mapped_column(String(120))
    original_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSON, nullable=True)
    reason: Mapped[str] = mapped_column(Text)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    actor: Mapped[User | None] = relationship()
