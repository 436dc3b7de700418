"""The audit log for administrators: filter and export (read-only)."""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, render_template, request, stream_with_context
from flask.typing import ResponseReturnValue

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.accounts.services import audit, audit_query
from survey_app.core import db
from survey_app.core.errors import ValidationFailed

bp = Blueprint("admin_audit", __name__, template_folder="../templates", url_prefix="/admin")


@bp.get("/audit")
@roles_required(Role.ADMIN)
def index() -> ResponseReturnValue:
    session = db.session()
    context = {"actions": audit_query.actions(session), "object_types": audit_query.object_types(session), "args": request.args, "message": "", "errors": {}}
    try:
        f = audit_query.parse_filter(request.args)
    except ValidationFailed as exc:
        return render_template("accounts/audit.html", events=[], total=0, page=1, pages=1, filter_args={}, **{**context, "message": exc.message, "errors": exc.errors or {}}), 422
    events, total, page = audit_query.search(session, f, request.args.get("page", 1, type=int))
    pages = max(1, -(-total // audit_query.PAGE_SIZE))
    return render_template("accounts/audit.html", events=events, total=total, page=page, pages=pages, filter_args=f.as_args(), **context)


@bp.get("/audit/export.csv")
@roles_required(Role.ADMIN)
def export() -> ResponseReturnValue:
    session = db.session()
    f = audit_query.parse_filter(request.args)
    audit.record(session, "audit.export", actor=actor(), object_type="audit_log", details=f.as_args())
    session.commit()
    def rows() -> Iterator[str]:
        # streamed after the request has ended: read with a session that is closed when done
        reader = db.session_factory()()
        try:
            yield from audit_query.export_csv(reader, f)
        finally:
            reader.close()

    response = Response(stream_with_context(rows()), mimetype="text/csv; charset=utf-8")
    response.headers["Content-Disposition"] = 'attachment; filename="strata-audit.csv"'
    return response
