"""Random inspection draws (双随机、一公开): registers, draws, results and publication."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import AppError, ValidationFailed
from survey_app.inspections.models import RegisterKind
from survey_app.inspections.services import inspections

bp = Blueprint("admin_inspections", __name__, template_folder="../templates", url_prefix="/admin/inspections")


@bp.route("/", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def index() -> ResponseReturnValue:
    session = db.session()
    message, status = "", 200
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            if request.form.get("action") == "draw":
                units = inspections.get_register(session, int(request.form.get("units_register_id") or 0), RegisterKind.UNITS)
                staff = inspections.get_register(session, int(request.form.get("inspectors_register_id") or 0),
                                                 RegisterKind.INSPECTORS)
                record = inspections.draw(session, units, staff, inspections.parse_settings(request.form.to_dict()), actor=actor())
                session.commit()
                flash(_("Draw made: %(n)d units.", n=len(record.units)), "success")
                return redirect(url_for("admin_inspections.show", draw_id=record.id), code=303)
            upload = request.files.get("file")
            if upload is None or not upload.filename:
                raise ValidationFailed("Choose a CSV or XLSX file.", {"file": ["no file"]})
            kind = RegisterKind(request.form.get("kind", "units"))
            inspections.upload_register(session, kind, upload.read(), upload.filename, name=request.form.get("name", ""),
                                        actor=actor())
            session.commit()
            flash(_("Register frozen."), "success")
            return redirect(url_for("admin_inspections.index"), code=303)
        except (AppError, ValueError) as exc:
            session.rollback()
            if isinstance(exc, AppError):
                message, errors, status = exc.message, exc.errors or {}, exc.status
            else:
                message, errors, status = _("Unknown register kind."), {}, 400
    return render_template("inspections/index.html", units=inspections.registers(session, RegisterKind.UNITS),
                           staff=inspections.registers(session, RegisterKind.INSPECTORS), draws=inspections.draws(session),
                           message=message, errors=errors, values=request.form), status


@bp.route("/draws/<int:draw_id>", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def show(draw_id: int) -> ResponseReturnValue:
    session = db.session()
    record = inspections.get_draw(session, draw_id)
    message, status = "", 200
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            if request.form.get("action") == "publish":
                inspections.publish(session, record, actor=actor())
            else:
                inspections.record_results(session, record, request.form.get("results", ""), actor=actor())
            session.commit()
            flash(_("Saved."), "success")
            return redirect(url_for("admin_inspections.show", draw_id=draw_id), code=303)
        except AppError as exc:
            session.rollback()
            message, errors, status = exc.message, exc.errors or {}, exc.status
    return render_template("inspections/draw.html", draw=record, rows=inspections.public_rows(record),
                           reproduced=inspections.verify(record), message=message, errors=errors), status


@bp.get("/draws/<int:draw_id>/manifest.json")
@roles_required(Role.DESIGNER)
def manifest(draw_id: int) -> ResponseReturnValue:
    record = inspections.get_draw(db.session(), draw_id)
    reply = jsonify({"draw_id": record.id, "title": record.title, "seed": record.seed, "parameters": record.parameters,
                     "manifest": record.manifest, "assignments": record.assignments})
    reply.headers["Content-Disposition"] = f'attachment; filename="inspection-{record.id}-manifest.json"'
    return reply
