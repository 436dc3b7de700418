"""Invitations: personal single-use tokens and open links."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from survey_app.models.base import Base, enum_type, utcnow
from survey_app.models.frames import SampleUnit


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
