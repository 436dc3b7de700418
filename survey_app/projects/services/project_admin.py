"""Survey projects on the admin pages: create/edit with owner and grants, and the registry.

The registry lists the approved projects with their indicators and validity, and warns when two
active projects target the same population: the same target-population text, or frames that share
unit ids (the same respondents would be surveyed twice).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import audit
from survey_app.core.errors import Forbidden, NotFound, ValidationFailed
from survey_app.projects.models import ProjectGrant, SurveyProject, SurveyStatus
from survey_app.projects.services import permissions, surveys


def designers(session: Session) -> list[User]:
    return list(session.scalars(select(User).where(User.role.in_([Role.DESIGNER, Role.ADMIN]), User.is_active.is_(True)).order_by(User.display_name)))


def _owner(session: Session, owner_id: Any) -> User | None:
    if owner_id in (None, ""):
        return None
    try:
        user = session.get(User, int(owner_id))
    except (TypeError, ValueError):
        user = None
    if user is None or user.role not in (Role.DESIGNER, Role.ADMIN) or not user.is_active:
        raise ValidationFailed("The owner is not valid.", {"owner_id": ["choose an active designer or administrator"]})
    return user


def create(session: Session, data: Mapping[str, Any], *, actor: User) -> SurveyProject:
    """Create a project; designers own what they create, admins may name another owner."""
    if actor.role not in (Role.ADMIN, Role.DESIGNER):
        raise Forbidden("Only designers and administrators create survey projects.")
    values = {k: v for k, v in data.items() if k != "owner_id"}
    project = surveys.create_project(session, values, actor=actor)
    owner = _owner(session, data.get("owner_id")) if actor.role == Role.ADMIN else None
    if owner is not None and owner.id != project.owner_id:
        project.owner_id = owner.id
        session.flush()
        audit.record(session, "survey.owner_change", actor=actor, object_type="survey_project", object_id=project.id, before={"owner_id": actor.id}, after={"owner_id": owner.id})
    return project


def update(session: Session, project: SurveyProject, data: Mapping[str, Any], *, actor: User) -> SurveyProject:
    """Edit a project (its managers); archiving or unarchiving it is for the owner or an admin."""
    permissions.require_manage_project(session, actor, project)
    status = data.get("status")
    if status not in (None, "", project.status.value) and SurveyStatus.ARCHIVED.value in (str(status), project.status.value):
        permissions.require_administer_project(session, actor, project)
    values = {k: v for k, v in data.items() if k != "owner_id"}
    surveys.update_project(session, project, values, actor=actor)
    if actor.role == Role.ADMIN and "owner_id" in data:
        owner = _owner(session, data.get("owner_id"))
        new_id = owner.id if owner else None
        if new_id != project.owner_id:
            before = project.owner_id
            project.owner_id = new_id
            session.flush()
            audit.record(session, "survey.owner_change", actor=actor, object_type="survey_project", object_id=project.id, before={"owner_id": before}, after={"owner_id": new_id})
    return project


def grants(session: Session, project: SurveyProject) -> list[ProjectGrant]:
    return list(session.scalars(select(ProjectGrant).where(ProjectGrant.project_id == project.id).order_by(ProjectGrant.id)))


def grant(session: Session, project: SurveyProject, user_id: int, *, actor: User) -> ProjectGrant:
    """Let another designer manage ``project`` (owner or admin only)."""
    permissions.require_administer_project(session, actor, project)
    user = session.get(User, user_id)
    if user is None or user.role != Role.DESIGNER:
        raise ValidationFailed("Only designers can be granted a project.", {"user_id": ["choose a designer"]})
    existing = session.scalars(select(ProjectGrant).where(ProjectGrant.project_id == project.id, ProjectGrant.user_id == user.id)).first()
    if existing is not None:
        return existing
    row = ProjectGrant(project_id=project.id, user_id=user.id, granted_by_id=actor.id)
    session.add(row)
    session.flush()
    audit.record(session, "survey.grant", actor=actor, object_type="survey_project", object_id=project.id, after={"user_id": user.id, "email": user.email})
    return row


def revoke(session: Session, project: SurveyProject, grant_id: int, *, actor: User) -> None:
    """Take a designer's access away (owner or admin only)."""
    permissions.require_administer_project(session, actor, project)
    row = session.get(ProjectGrant, grant_id)
    if row is None or row.project_id != project.id:
        raise NotFound(f"Grant {grant_id} does not exist on this project.")
    audit.record(session, "survey.revoke", actor=actor, object_type="survey_project", object_id=project.id, before={"user_id": row.user_id})
    session.delete(row)
    session.flush()
