"""Object-level permissions: who may see or change which survey project, frame, sample or record.

Every admin view calls one of the ``require_*`` functions on the object it shows or changes,
not only a role check on the page.

- admin: everything;
- designer: the projects they own or were granted (:class:`~survey_app.projects.models.ProjectGrant`):
  they edit the project's work (labels, questionnaire, frames, samples, invitations, review set-up);
  only the owner (and admins) hand the project on: grant or revoke access, archive or unarchive it
  (:func:`require_administer_project`);
- reviewer: the review levels of the projects they are assigned to;
- statistician: reads results (monitoring) of every project, changes nothing.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.core.errors import Forbidden
from survey_app.projects.models import ProjectGrant, ReviewerAssignment, SurveyProject


def is_granted(session: Session, user: User, project: SurveyProject) -> bool:
    return bool(
        session.scalar(
            select(
                exists().where(ProjectGrant.project_id == project.id, ProjectGrant.user_id == user.id)
            )
        )
    )


def can_manage_project(session: Session, user: User, project: SurveyProject) -> bool:
    """Admins manage every project; designers the projects they own or were granted."""
    if user.role == Role.ADMIN:
        return True
    if user.role != Role.DESIGNER:
        return False
    return project.owner_id == user.id or is_granted(session, user, project)


def require_manage_project(session: Session, user: User, project: SurveyProject) -> None:
    if not can_manage_project(session, user, project):
        raise Forbidden(f"You may not manage survey project {project.code!r}.")


def can_administer_project(session: Session, user: User, project: SurveyProject) -> bool:
    """Grants and archiving: admins and the project's owner, not the designers it was granted to."""
    return user.role == Role.ADMIN or (user.role == Role.DESIGNER and project.owner_id == user.id)


def require_administer_project(session: Session, user: User, project: SurveyProject) -> None:
    if not can_administer_project(session, user, project):
        raise Forbidden(_("Only the owner of survey project %(code)s or an administrator may grant or revoke access to it or archive it.",
                          code=project.code))


def can_read_results(session: Session, user: User, project: SurveyProject) -> bool:
    """Fieldwork monitoring and results: managers of the project and statisticians."""
    return user.role == Role.STATISTICIAN or can_manage_project(session, user, project)


def require_read_results(session: Session, user: User, project: SurveyProject) -> None:
    if not can_read_results(session, user, project):
        raise Forbidden(f"You may not read the results of survey project {project.code!r}.")


def visible_projects(session: Session, user: User) -> list[SurveyProject]:
    """The projects ``user`` can open from the dashboard."""
    query = select(SurveyProject).order_by(SurveyProject.valid_until.desc(), SurveyProject.id)
    if user.role in (Role.ADMIN, Role.STATISTICIAN):
        return list(session.scalars(query))
    if user.role == Role.DESIGNER:
        granted = select(ProjectGrant.project_id).where(ProjectGrant.user_id == user.id)
        query = query.where(or_(SurveyProject.owner_id == user.id, SurveyProject.id.in_(granted)))
    else:
        assigned = select(ReviewerAssignment.project_id).where(ReviewerAssignment.user_id == user.id)
        query = query.where(SurveyProject.id.in_(assigned))
    return list(session.scalars(query))
