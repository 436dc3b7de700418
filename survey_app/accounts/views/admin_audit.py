"""The audit log for administrators: filter and export (read-only)."""

from __future__ import annotations

from flask import Blueprint, Response, render_template, request
from flask.typing import ResponseReturnValue

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.accounts.services import audit, audit_query
from survey_app.core import db, exporters
from survey_app.core.errors import ValidationFailed

bp = Blueprint("admin_audit", __name__, template_folder="../templates", url_prefix="/admin")


@bp.get("/audit")
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    session = db.session()
    context = {"actions": audit_query.actions(session), "object_types": audit_query.object_types(session), "args": request.args, "message": "", "errors": {}}
    try:
        f = audit_query.parse_filter(request.args)
        page = audit_query.parse_page(request.args)
    except ValidationFailed as exc:
        return render_template("accounts/audit.html", events=[], total=0, page=1, pages=1, filter_args={}, **{**context, "message": exc.message, "errors": exc.errors or {}}), 422
    found = audit_query.search(session, f, page)
    return render_template("accounts/audit.html", events=found.events, total=found.total, page=found.page, pages=found.pages, filter_args=f.as_args(), **context)


@bp.get("/audit/export.csv")
@roles_required(Role.ADMIN)
def export() -> ResponseReturnValue:
    session = db.session()
    f = audit_query.parse_filter(request.args)
    audit.record(session, "audit.export", actor=actor(), object_type="audit_log", details=f.as_args())
    # the whole file is written before its first byte is sent (complete, or an error page and no
    # audit event); it lists this export too
    body = exporters.spooled(audit_query.export_csv(session, f))
    session.commit()
    response = Response(body, mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="strata-audit.csv"'
    return response
