"""Who may see or change which graduate data: the rule of the package docstring, in one place.

Every graduate page and API endpoint calls one of the ``require_*`` functions here on the data it
shows or changes, as the other features call :mod:`survey_app.projects.services.permissions`.
"""

from __future__ import annotations

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.core.errors import Forbidden
from survey_app.graduates.models import GraduateDraw
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import permissions


def draw_project_id(draw: GraduateDraw) -> int | None:
    """The survey project a draw belongs to: the project its fieldwork runs in."""
    fieldwork = draw.parameters.get("fieldwork") or {}
    value = fieldwork.get("project_id")
    return int(value) if value else None


def draw_project(session: Session, draw: GraduateDraw) -> SurveyProject | None:
    project_id = draw_project_id(draw)
    return session.get(SurveyProject, project_id) if project_id is not None else None


def require_draw(session: Session, user: User, draw: GraduateDraw) -> None:
    """Changing a draw: administrators, and the designers who manage the draw's project."""
    project = draw_project(session, draw)
    if user.role == Role.ADMIN or project is None:
        return
    if not permissions.can_manage_project(session, user, project):
        raise Forbidden(_("Sample draw #%(id)d belongs to survey project %(code)s, which you do not manage.", id=draw.id, code=project.code))
