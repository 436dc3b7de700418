"""Pages for survey designers, reviewers and administrators."""

from __future__ import annotations

from flask import Blueprint, render_template
from flask.typing import ResponseReturnValue
from flask_login import login_required

from survey_app import db
from survey_app.services import surveys

bp = Blueprint("admin", __name__, url_prefix="/admin")


@bp.get("/")
@login_required
def dashboard() -> ResponseReturnValue:
    projects = surveys.list_projects(db.session())
    return render_template("admin/dashboard.html", projects=projects)
