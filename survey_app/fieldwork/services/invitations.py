"""Invitations: personal single-use tokens for sample units, open links, look-up by token.

The admin pages (invitation export, QR codes, monitoring) call these functions; the respondent
pages resolve tokens with :func:`find_by_token`.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable

from flask import url_for
from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import NotFound, ValidationFailed
from survey_app.fieldwork.models import (
    Invitation,
    InvitationKind,
    InvitationStatus,
    SampleDraw,
    SampleUnit,
)
from survey_app.projects.models import SurveyProject

TOKEN_BYTES = 18  # 24 URL-safe characters, 144 random bits


def new_token() -> str:
    return secrets.token_urlsafe(TOKEN_BYTES)


def find_by_token(session: Session, token: str) -> Invitation:
    """The invitation with this token; revoked and unknown tokens are not found."""
    if not token or len(token) > 64:
        raise NotFound(_("This survey link is not valid."))
    invitation = session.scalars(select(Invitation).where(Invitation.token == token)).one_or_none()
    if invitation is None or invitation.status == InvitationStatus.REVOKED:
        raise NotFound(_("This survey link is not valid."))
    return invitation


def issue_personal(session: Session, project: SurveyProject, units: Iterable[SampleUnit], *,
                   actor: User | None = None, actor_label: str | None = None) -> list[Invitation]:
    """One personal invitation per sample unit that has none yet; returns the new ones.

    Every unit must come from a draw of ``project``.
    """
    unit_list = list(units)
    draw_ids = {unit.draw_id for unit in unit_list}
    if draw_ids:
        projects = set(session.scalars(select(SampleDraw.project_id).where(SampleDraw.id.in_(draw_ids))))
        if projects - {project.id}:
            raise ValidationFailed("Some sample units belong to another survey project.", {"units": ["not in this project"]})
    have = set(session.scalars(
        select(Invitation.sample_unit_id).where(Invitation.sample_unit_id.in_([u.id for u in unit_list]))
    )) if unit_list else set()
    created = [Invitation(project_id=project.id, token=new_token(), kind=InvitationKind.PERSONAL, sample_unit_id=unit.id)
               for unit in unit_list if unit.id not in have]
    session.add_all(created)
    session.flush()
    if created:
        audit.record(session, "invitation.issue_personal", actor=actor, actor_label=actor_label,
                     object_type="survey_project", object_id=project.id, details={"count": len(created)})
    return created


def create_open_link(session: Session, project: SurveyProject, label: str = "", *,
                     actor: User | None = None, actor_label: str | None = None) -> Invitation:
    """A new open link (e.g. one per county QR code); ``label`` says where it is published."""
    if len(label) > 200:
        raise ValidationFailed("The label is too long.", {"label": ["at most 200 characters"]})
    invitation = Invitation(project_id=project.id, token=new_token(), kind=InvitationKind.OPEN, label=label)
    session.add(invitation)
    session.flush()
    audit.record(session, "invitation.open_link", actor=actor, actor_label=actor_label,
                 object_type="invitation", object_id=invitation.id, details={"project": project.code, "label": label})
    return invitation


def list_for_project(session: Session, project: SurveyProject, kind: InvitationKind | None = None) -> list[Invitation]:
    query = select(Invitation).where(Invitation.project_id == project.id).order_by(Invitation.id)
    if kind is not None:
        query = query.where(Invitation.kind == kind)
    return list(session.scalars(query))


def respondent_url(invitation: Invitation, *, external: bool = True) -> str:
    """The link a respondent opens (needs an app or request context)."""
    return url_for("respond.start", token=invitation.token, _external=external)
