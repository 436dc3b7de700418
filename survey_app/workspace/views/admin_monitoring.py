"""Fieldwork monitoring: response rates by stratum, progress, completion time, quality flags."""

from __future__ import annotations

from flask import Blueprint, Response, render_template
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import NotFound
from survey_app.core.i18n import enum_label
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import permissions, surveys
from survey_app.workspace.services import monitoring

bp = Blueprint("admin_monitoring", __name__, template_folder="../templates", url_prefix="/admin")


def _project(project_id: int) -> SurveyProject:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_read_results(session, actor(), project)
    return project


@bp.get("/projects/<int:project_id>/monitoring")
@roles_required(Role.DESIGNER, Role.STATISTICIAN)
def index(project_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    return render_template("workspace/monitoring.html", project=project, data=monitoring.summary(db.session(), project), outcomes=monitoring.OUTCOMES)


@bp.get("/projects/<int:project_id>/monitoring/<chart>.svg")
@roles_required(Role.DESIGNER, Role.STATISTICIAN)
def chart(project_id: int, chart: str) -> ResponseReturnValue:
    project = _project(project_id)
    session = db.session()
    if chart == "outcomes":
        labels = {o: enum_label(o) for o in monitoring.OUTCOMES}
        svg = monitoring.outcomes_chart(monitoring.outcomes_by_stratum(session, project), labels, _("Outcomes by stratum"))
    elif chart == "progress":
        data = monitoring.summary(session, project)
        svg = monitoring.progress_chart(data["daily"], data["sampled"], _("Completed responses over time"), _("Completed (cumulative)"))
    else:
        raise NotFound(f"There is no chart {chart!r}.")
    return Response(svg, mimetype="image/svg+xml", headers={"Cache-Control": "no-store"})
