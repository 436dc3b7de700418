"""Sample design (strata, allocation, size calculator, preview) and logged draws."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import AppError
from survey_app.fieldwork.services import frames, samples
from survey_app.projects.services import permissions

bp = Blueprint("admin_samples", __name__, template_folder="../templates", url_prefix="/admin")


CALCULATOR_FIELDS = ("margin", "level", "p", "deff", "response_rate")


@bp.route("/frames/<int:frame_id>/design", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def design(frame_id: int) -> ResponseReturnValue:
    session = db.session()
    frame = frames.get_frame(session, frame_id)
    permissions.require_manage_project(session, actor(), frame.project)
    values: dict[str, Any] = request.values.to_dict()
    if "strata_form" in values:  # the page's strata checkboxes (none ticked: no strata)
        values["strata"] = request.values.getlist("strata")
    context: dict[str, Any] = {
        "frame": frame,
        "project": frame.project,
        "values": values,
        "table": None,
        "calculation": None,
        "message": "",
        "errors": {},
        "earlier": frames.draw_count(session, frame),
        "allocations": samples.ALLOCATIONS,
        "strata_choices": [c for c in [frame.columns.get("stratum"), *(frame.columns.get("attributes") or [])] if c],
        "chosen_strata": values["strata"] if "strata" in values else [c for c in [frame.columns.get("stratum")] if c],
        "methods": samples.METHODS,
    }
    action = values.get("action", "")
    status = 200
    try:
        if action == "calculate":
            context["calculation"] = samples.calculate_size(values, frame.row_count)
            values["sample_size"] = str(context["calculation"]["issued"])
            context["table"] = samples.allocation_table(session, frame, samples.parse_design(values))
        elif action == "preview":
            context["table"] = samples.allocation_table(session, frame, samples.parse_design(values))
        elif action == "draw" and request.method == "POST":
            record = samples.draw(session, frame.project, frame, samples.parse_design(values), actor=actor())
            session.commit()
            flash(_("Sample drawn: %(n)d units.", n=record.sample_size), "success")
            return redirect(url_for("admin_samples.show", draw_id=record.id))
    except AppError as exc:
        session.rollback()
        context.update(message=exc.message, errors=exc.errors or {})
        status = exc.status
    return render_template("fieldwork/sample_design.html", **context), status


@bp.get("/draws/<int:draw_id>")
@roles_required(Role.DESIGNER)
def show(draw_id: int) -> ResponseReturnValue:
    session = db.session()
    record = samples.get_draw(session, draw_id)
    permissions.require_manage_project(session, actor(), record.frame.project)
    return render_template("fieldwork/sample.html", draw=record, project=record.frame.project, units=samples.unit_count(session, record))


@bp.get("/draws/<int:draw_id>/manifest.json")
@roles_required(Role.DESIGNER)
def manifest(draw_id: int) -> ResponseReturnValue:
    session = db.session()
    record = samples.get_draw(session, draw_id)
    permissions.require_manage_project(session, actor(), record.frame.project)
    response = jsonify({"draw_id": record.id, "label": record.label, "seed": record.seed, "manifest": record.manifest})
    response.headers["Content-Disposition"] = f'attachment; filename="sample-{record.id}-manifest.json"'
    return response
