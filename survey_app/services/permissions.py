"""Object-level permissions: who may see or change which survey project."""

from __future__ import annotations

from sqlalchemy.orm import Session

from survey_app.errors import Forbidden
from survey_app.models import Role, SurveyProject, User


def can_manage_project(session: Session, user: User, project: SurveyProject) -> bool:
    """Admins manage every project; designers the projects they own."""
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.DESIGNER and project.owner_id == user.id


def require_manage_project(session: Session, user: User, project: SurveyProject) -> None:
    if not can_manage_project(session, user, project):
        raise Forbidden(f"You may not manage survey project {project.code!r}.")
