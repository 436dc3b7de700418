"""Data review: chain configuration (designers), queues and decisions (reviewers)."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_login import login_required

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import AppError, ValidationFailed
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import permissions, surveys
from survey_app.review.models import ReviewDecisionKind
from survey_app.review.services import review

bp = Blueprint("admin_review", __name__, template_folder="../templates", url_prefix="/admin")


def _managed(project_id: int) -> SurveyProject:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_manage_project(session, actor(), project)
    return project


def _reviewing(project_id: int, level: int) -> SurveyProject:
    session = db.session()
    project = surveys.get_project(session, project_id)
    review.require_review_level(session, actor(), project, level)
    return project


@bp.get("/review")
@login_required
def mine() -> ResponseReturnValue:
    return render_template("review/mine.html", queues=review.my_queues(db.session(), actor()))


@bp.route("/projects/<int:project_id>/review/setup", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def setup(project_id: int) -> ResponseReturnValue:
    project = _managed(project_id)
    session = db.session()
    status, message, errors = 200, "", {}
    if request.method == "POST":
        try:
            if request.form.get("action") == "assign":
                review.assign(session, project, request.form.get("user_id", type=int) or 0, request.form.get("level", type=int) or 0, actor=actor())
            else:
                review.configure_chain(session, project, request.form.getlist("level_name"), actor=actor())
        except AppError as exc:
            session.rollback()
            status, message, errors = exc.status, exc.message, exc.errors or {}
        else:
            session.commit()
            flash(_("Review settings saved."), "success")
            return redirect(url_for("admin_review.setup", project_id=project.id))
    return render_template(
        "review/setup.html", project=project, chain=review.chain(session, project), assignments=review.assignments(session, project),
        reviewers=review.reviewers(session), counts=review.counts(session, project), message=message, errors=errors,
    ), status


@bp.post("/projects/<int:project_id>/review/assignments/<int:assignment_id>/delete")
@roles_required(Role.DESIGNER)
def unassign(project_id: int, assignment_id: int) -> ResponseReturnValue:
    project = _managed(project_id)
    session = db.session()
    review.unassign(session, project, assignment_id, actor=actor())
    session.commit()
    flash(_("Reviewer removed."), "success")
    return redirect(url_for("admin_review.setup", project_id=project.id))


@bp.get("/projects/<int:project_id>/review/<int:level>")
@roles_required(Role.REVIEWER)
def queue(project_id: int, level: int) -> ResponseReturnValue:
    project = _reviewing(project_id, level)
    session = db.session()
    responses, total = review.queue(session, project, level)
    names = {lv.level: lv.name for lv in review.chain(session, project)}
    return render_template("review/queue.html", project=project, level=level, level_name=names.get(level, ""), responses=responses, total=total)


def _render_item(project: SurveyProject, level: int, response_id: int, message: str = "", errors: dict[str, Any] | None = None, status: int = 200) -> ResponseReturnValue:
    session = db.session()
    names = {lv.level: lv.name for lv in review.chain(session, project)}
    current = review.item(session, project, response_id)
    return render_template(
        "review/item.html", project=project, level=level, level_name=names.get(level, ""), item=current, names=names,
        waits_at=review.waits_at(current.response, current.record), decisions=list(ReviewDecisionKind), message=message, errors=errors or {},
    ), status


@bp.get("/projects/<int:project_id>/review/<int:level>/<int:response_id>")
@roles_required(Role.REVIEWER)
def show(project_id: int, level: int, response_id: int) -> ResponseReturnValue:
    return _render_item(_reviewing(project_id, level), level, response_id)


@bp.post("/projects/<int:project_id>/review/<int:level>/<int:response_id>/decision")
@roles_required(Role.REVIEWER)
def decide(project_id: int, level: int, response_id: int) -> ResponseReturnValue:
    project = _reviewing(project_id, level)
    session = db.session()
    try:
        review.decide(session, project, response_id, level, request.form.get("decision", ""), request.form.get("reason", ""), actor=actor())
    except ValidationFailed as exc:
        session.rollback()
        return _render_item(project, level, response_id, exc.message, exc.errors, exc.status)
    session.commit()
    flash(_("Decision recorded."), "success")
    return redirect(url_for("admin_review.queue", project_id=project.id, level=level))


@bp.post("/projects/<int:project_id>/review/<int:level>/<int:response_id>/edit")
@roles_required(Role.REVIEWER)
def edit(project_id: int, level: int, response_id: int) -> ResponseReturnValue:
    project = _reviewing(project_id, level)
    session = db.session()
    try:
        review.edit(session, project, response_id, level, request.form.get("variable", ""), request.form.get("value", ""), request.form.get("reason", ""), actor=actor())
    except ValidationFailed as exc:
        session.rollback()
        return _render_item(project, level, response_id, exc.message, exc.errors, exc.status)
    session.commit()
    flash(_("Correction saved; the original value is kept."), "success")
    return redirect(url_for("admin_review.show", project_id=project.id, level=level, response_id=response_id))
