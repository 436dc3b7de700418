"""Responses, the page submissions that make them (one row per idempotency key), and quotas of
completed responses."""

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
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.core.models import Base, enum_type, utcnow
from survey_app.fieldwork.models import Invitation
from survey_app.questionnaires.models import QuestionnaireVersion


class ResponseStatus(enum.StrEnum):
    PARTIAL = "partial"
    COMPLETE = "complete"


class Response(Base):
    """One respondent's answers to one exact questionnaire version.

    ``answers`` holds analysis values (``None`` for missing); ``missing`` records why an answer is
    missing when the respondent said so (e.g. ``{"q5": "dk"}`` for "don't know").
    A personal invitation's response is bound to its sample unit (unique: one response per unit).
    ``dedupe_hash`` is a keyed hash of the open link's duplicate check (e.g. a phone number);
    ``ip_hash`` a keyed hash of the address. No IP address or checked value is stored in clear.
    ``paradata``: ``{"pages": {page: seconds}, "visits": n}``.
    """

    __tablename__ = "responses"
    __table_args__ = (UniqueConstraint("project_id", "dedupe_hash", name="uq_responses_project_dedupe"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("survey_projects.id", ondelete="CASCADE"), index=True)
    version_id: Mapped[int] = mapped_column(ForeignKey("questionnaire_versions.id", ondelete="RESTRICT"), index=True)
    invitation_id: Mapped[int | None] = mapped_column(ForeignKey("invitations.id", ondelete="SET NULL"), index=True)
    sample_unit_id: Mapped[int | None] = mapped_column(ForeignKey("sample_units.id", ondelete="SET NULL"), unique=True)
    status: Mapped[ResponseStatus] = mapped_column(enum_type(ResponseStatus, "response_status"), default=ResponseStatus.PARTIAL, index=True)
    answers: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    missing: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    page: Mapped[int] = mapped_column(Integer, default=0)
    furthest_page: Mapped[int] = mapped_column(Integer, default=0)
    language: Mapped[str] = mapped_column(String(10), default="")
    device_class: Mapped[str] = mapped_column(String(20), default="")
    paradata: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    dedupe_hash: Mapped[str | None] = mapped_column(String(64))
    ip_hash: Mapped[str] = mapped_column(String(64), default="")
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))

    version: Mapped[QuestionnaireVersion] = relationship()
    invitation: Mapped[Invitation | None] = relationship()

    @property
    def is_complete(self) -> bool:
        return self.status == ResponseStatus.COMPLETE


class PageSubmission(Base):
    """A page POST, keyed by the idempotency key rendered into that page.

    The unique key makes a double click or a retried POST (on any process) a no-op that returns
    the first outcome: ``page:N`` (go to page N) or ``done``.
    """

    __tablename__ = "page_submissions"

    id: Mapped[int] = mapped_column(primary_key=True)
    key: Mapped[str] = mapped_column(String(64), unique=True)
    response_id: Mapped[int] = mapped_column(ForeignKey("responses.id", ondelete="CASCADE"), index=True)
    page: Mapped[int] = mapped_column(Integer)
    outcome: Mapped[str] = mapped_column(String(20))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    response: Mapped[Response] = relationship()


ANY = ""  # a quota dimension that is not restricted


class QuotaCell(Base):
    """A quota: ``target`` completed responses matching the cell; ``""`` in a dimension matches any.

    ``filled`` only changes through a conditional ``UPDATE ... SET filled = filled + 1 WHERE
    filled < target`` (:mod:`survey_app.respond.services.quotas`), so it never exceeds ``target``.
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
