"""Invitations of a sample: issue links, export (CSV/XLSX), QR codes, e-mail reminders."""

from __future__ import annotations

from flask import (
    Blueprint,
    Response,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import AppError, NotFound
from survey_app.fieldwork.models import Invitation, SampleDraw
from survey_app.fieldwork.services import invitations, invitations_export, samples
from survey_app.projects.services import permissions, surveys

bp = Blueprint("admin_invitations", __name__, template_folder="../templates", url_prefix="/admin")


PREVIEW_ROWS = 20


def _draw(draw_id: int) -> SampleDraw:
    session = db.session()
    record = samples.get_draw(session, draw_id)
    permissions.require_manage_project(session, actor(), record.frame.project)
    return record


def _link(token: str) -> str:
    return url_for("respond.start", token=token, _external=True)


def _smtp() -> tuple[invitations_export.SmtpSettings | None, str]:
    try:
        return invitations_export.smtp_settings(current_app.config.get("SMTP_URL", "")), ""
    except AppError as exc:
        return None, exc.message


@bp.get("/draws/<int:draw_id>/invitations")
@roles_required(Role.DESIGNER)
def index(draw_id: int) -> ResponseReturnValue:
    record = _draw(draw_id)
    session = db.session()
    preview = [row for row in invitations_export.rows(session, record) if row.token][:PREVIEW_ROWS]
    smtp, smtp_error = _smtp()
    return render_template(
        "fieldwork/invitations.html", draw=record, project=record.frame.project, counts=invitations_export.counts(session, record),
        preview=preview, link=_link, smtp=smtp, smtp_error=smtp_error, contact_columns=record.frame.columns.get("contact") or [],
    )


@bp.post("/draws/<int:draw_id>/invitations/issue")
@roles_required(Role.DESIGNER)
def issue(draw_id: int) -> ResponseReturnValue:
    record = _draw(draw_id)
    session = db.session()
    created = invitations_export.issue(session, record, actor=actor())
    session.commit()
    flash(_("%(n)d invitations issued.", n=created), "success")
    return redirect(url_for("admin_invitations.index", draw_id=record.id))


@bp.get("/draws/<int:draw_id>/invitations.csv")
@roles_required(Role.DESIGNER)
def export_csv(draw_id: int) -> ResponseReturnValue:
    record = _draw(draw_id)
    session = db.session()
    text = invitations_export.export_csv(session, record, _link, actor=actor())
    session.commit()
    return Response(text.encode("utf-8"), mimetype="text/csv", headers={"Content-Disposition": f'attachment; filename="invitations-{record.id}.csv"'})


@bp.get("/draws/<int:draw_id>/invitations.xlsx")
@roles_required(Role.DESIGNER)
def export_xlsx(draw_id: int) -> ResponseReturnValue:
    record = _draw(draw_id)
    session = db.session()
    content = invitations_export.export_xlsx(session, record, _link, actor=actor())
    session.commit()
    return Response(content, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", headers={"Content-Disposition": f'attachment; filename="invitations-{record.id}.xlsx"'})


@bp.get("/invitations/<int:invitation_id>/qr.<kind>")
@roles_required(Role.DESIGNER)
def qr(invitation_id: int, kind: str) -> ResponseReturnValue:
    session = db.session()
    invitation = session.get(Invitation, invitation_id)
    if invitation is None:
        raise NotFound(f"Invitation {invitation_id} does not exist.")
    permissions.require_manage_project(session, actor(), surveys.get_project(session, invitation.project_id))
    content = invitations_export.qr_code(invitations.respondent_url(invitation), kind)
    mimetype = "image/svg+xml" if kind == "svg" else "image/png"
    return Response(content, mimetype=mimetype, headers={"Cache-Control": "private, max-age=3600"})


@bp.post("/draws/<int:draw_id>/invitations/remind")
@roles_required(Role.DESIGNER)
def remind(draw_id: int) -> ResponseReturnValue:
    record = _draw(draw_id)
    session = db.session()
    smtp, _error = _smtp()
    sent, skipped = invitations_export.send_reminders(
        session, record, smtp, _link, subject=request.form.get("subject", "").strip() or _("Survey invitation"), body=request.form.get("body", ""), actor=actor()
    )
    session.commit()
    flash(_("%(sent)d reminders sent; %(skipped)d units have no e-mail address.", sent=sent, skipped=skipped), "success")
    return redirect(url_for("admin_invitations.index", draw_id=record.id))


@bp.post("/draws/<int:draw_id>/invitations/outcomes")
@roles_required(Role.DESIGNER)
def outcomes(draw_id: int) -> ResponseReturnValue:
    record = _draw(draw_id)
    session = db.session()
    changed = invitations_export.record_outcomes(session, record, request.form.get("outcomes", ""), actor=actor())
    session.commit()
    flash(_("%(n)d outcomes recorded.", n=changed), "success")
    return redirect(url_for("admin_invitations.index", draw_id=record.id))
