"""Data review: the chain of review levels of a project and who reviews at which level."""

from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base
from survey_app.models.users import User

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
