"""Who may see or change which graduate data: the rule of the package docstring, in one place.

Every graduate page and API endpoint calls one of the ``require_*`` functions here on the data it
shows or changes, as the other features call :mod:`survey_app.projects.services.permissions`.
"""

from __future__ import annotations

from collections.abc import Iterable

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_tokens
from survey_app.core.errors import Forbidden, ValidationFailed
from survey_app.graduates.models import Graduate, GraduateDraw, GraduateSampleUnit
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import permissions, surveys


def draw_project_id(draw: GraduateDraw) -> int | None:
    """The survey project a draw belongs to: the one it was drawn for (or, for a draw made before
    draws named one, the project its fieldwork runs in); None for an older draw without either."""
    fieldwork = draw.parameters.get("fieldwork") or {}
    value = draw.parameters.get("project_id") or fieldwork.get("project_id")
    return int(value) if value else None


def draw_project(session: Session, draw: GraduateDraw) -> SurveyProject | None:
    project_id = draw_project_id(draw)
    return session.get(SurveyProject, project_id) if project_id is not None else None


# ------------------------------------------------------------------------------------------ pages
def works_on_register(session: Session, user: User) -> bool:
    """Administrators, and designers who own or were granted at least one survey project."""
    if user.role == Role.ADMIN:
        return True
    return user.role == Role.DESIGNER and bool(permissions.visible_projects(session, user))


def require_register(session: Session, user: User) -> None:
    if not works_on_register(session, user):
        raise Forbidden(_("The graduate register is open to administrators and to designers of a survey project; you have no project."))


def can_open_draw(session: Session, user: User, draw: GraduateDraw, *, results: bool = False) -> bool:
    """Administrators; the designers who manage the draw's project; with ``results``, also those
    who read the project's results (statisticians). A draw without a project: administrators only."""
    if user.role == Role.ADMIN:
        return True
    project = draw_project(session, draw)
    if project is None:
        return False
    if results:
        return permissions.can_read_results(session, user, project)
    return permissions.can_manage_project(session, user, project)


def require_draw(session: Session, user: User, draw: GraduateDraw, *, results: bool = False) -> None:
    """Opening or changing a draw (see :func:`can_open_draw`)."""
    if can_open_draw(session, user, draw, results=results):
        return
    project = draw_project(session, draw)
    if project is None:
        raise Forbidden(_("Sample draw #%(id)d was made for no survey project; only administrators may open it.", id=draw.id))
    raise Forbidden(_("Sample draw #%(id)d belongs to survey project %(code)s, which you do not manage.", id=draw.id, code=project.code))


def visible_draws(session: Session, user: User, draws: Iterable[GraduateDraw]) -> list[GraduateDraw]:
    return [d for d in draws if can_open_draw(session, user, d)]


def draw_projects(session: Session, user: User) -> list[SurveyProject]:
    """The projects ``user`` may draw a sample for (every project for administrators)."""
    if user.role not in (Role.ADMIN, Role.DESIGNER):
        return []
    return permissions.visible_projects(session, user)


def project_to_draw_for(session: Session, user: User, value: str | None) -> SurveyProject:
    """The project named by a draw form's ``project_id``, which ``user`` must manage."""
    try:
        project_id = int(str(value or "").strip())
    except ValueError:
        raise ValidationFailed(_("Choose the survey project the sample is drawn for."), {"project_id": [_("is required")]}) from None
    project = surveys.get_project(session, project_id)
    permissions.require_manage_project(session, user, project)
    return project


# ------------------------------------------------------------------------------------- identities
def reveal_projects(session: Session, user: User, graduate: Graduate) -> list[int]:
    """Ids of the projects whose draws sampled ``graduate`` and that ``user`` manages."""
    draws = session.scalars(select(GraduateDraw).join(GraduateSampleUnit, GraduateSampleUnit.draw_id == GraduateDraw.id)
                            .where(GraduateSampleUnit.graduate_id == graduate.id).order_by(GraduateDraw.id)).all()
    ids: list[int] = []
    for draw in draws:
        project = draw_project(session, draw)
        if project is not None and project.id not in ids and permissions.can_manage_project(session, user, project):
            ids.append(project.id)
    return ids


def can_reveal(session: Session, user: User, graduate: Graduate) -> bool:
    """Administrators, and designers managing a project whose draw sampled the graduate."""
    return user.role == Role.ADMIN or bool(reveal_projects(session, user, graduate))


# -------------------------------------------------------------------------------------------- API
def require_token_register(token: ApiToken) -> None:
    """The register as a whole (cohorts, placement rates) belongs to no survey: tokens for all surveys."""
    if not token.all_surveys:
        raise Forbidden(_("The graduate register belongs to no single survey: only a token for all surveys may read it."))


def token_may_read(token: ApiToken, draw: GraduateDraw) -> bool:
    project_id = draw_project_id(draw)
    return token.all_surveys if project_id is None else token.allows_project(project_id)


def require_token_draw(session: Session, token: ApiToken, draw: GraduateDraw) -> None:
    project = draw_project(session, draw)
    if project is None:
        require_token_register(token)
    else:
        api_tokens.require_project(token, project)
