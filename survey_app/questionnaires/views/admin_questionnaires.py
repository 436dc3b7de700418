"""Designer pages for questionnaires: XLSForm upload with row/column errors, preview in both
languages, publishing, version history and XLSForm export."""

from __future__ import annotations

import io

from flask import Blueprint, flash, redirect, render_template, send_file, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from flask_wtf.file import FileField

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import Conflict
from survey_app.core.i18n import ENUM_LABELS
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import permissions, surveys
from survey_app.questionnaires.engine.presentation import preview_pages
from survey_app.questionnaires.services import questionnaires
from survey_app.questionnaires.services.forms import form_for

bp = Blueprint("admin_questionnaires", __name__, template_folder="../templates", url_prefix="/admin/questionnaires")


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


ENUM_LABELS.update({"published": _l("Published"), "partial": _l("Partial"), "complete": _l("Complete")})


class UploadForm(FlaskForm):
    xlsform = FileField(_l("XLSForm workbook (.xlsx)"))


def _project(project_id: int) -> SurveyProject:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_manage_project(session, actor(), project)
    return project


@bp.get("/")
@roles_required(Role.DESIGNER)
def index() -> ResponseReturnValue:
    session = db.session()
    projects = [p for p in surveys.list_projects(session) if permissions.can_manage_project(session, actor(), p)]
    return render_template("questionnaires/index.html", rows=[(p, questionnaires.list_versions(session, p)) for p in projects])


@bp.route("/<int:project_id>", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def project(project_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    form, rejected, status = UploadForm(), None, 200
    if form.validate_on_submit():
        upload = form.xlsform.data
        session = db.session()
        try:
            version = questionnaires.import_xlsform(session, project, upload.read() if upload else b"",
                                                    upload.filename if upload else "", actor=actor())
        except questionnaires.XLSFormRejected as exc:
            session.rollback()
            rejected, status = exc, 422
        else:
            session.commit()
            flash(_("Version %(number)d saved as a draft. Preview it, then publish.", number=version.number), "success")
            return redirect(url_for(".project", project_id=project.id))
    versions = questionnaires.list_versions(db.session(), project)
    return render_template("questionnaires/project.html", project=project, versions=versions, form=form,
                           rejected=rejected), status


@bp.get("/<int:project_id>/versions/<int:version_id>/preview")
@roles_required(Role.DESIGNER)
def preview(project_id: int, version_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    version = questionnaires.get_version(db.session(), project, version_id)
    form = form_for(version)
    languages = {lang: preview_pages(form, lang) for lang in ("zh_CN", "en")}
    return render_template("questionnaires/preview.html", project=project, version=version, languages=languages,
                           title=form.definition["settings"]["title"])


@bp.post("/<int:project_id>/versions/<int:version_id>/publish")
@roles_required(Role.DESIGNER)
def publish(project_id: int, version_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    session = db.session()
    version = questionnaires.get_version(session, project, version_id)
    try:
        questionnaires.publish(session, version, actor=actor())
    except Conflict as exc:
        flash(exc.message, "error")
    else:
        session.commit()
        flash(_("Version %(number)d is published. New respondents answer it from now on.", number=version.number), "success")
    return redirect(url_for(".project", project_id=project.id))


@bp.get("/<int:project_id>/versions/<int:version_id>/xlsform")
@roles_required(Role.DESIGNER)
def export(project_id: int, version_id: int) -> ResponseReturnValue:
    project = _project(project_id)
    version = questionnaires.get_version(db.session(), project, version_id)
    data = questionnaires.export_xlsform(version)
    name = f"{project.code}-v{version.number}.xlsx"
    return send_file(io.BytesIO(data), mimetype=XLSX, as_attachment=True, download_name=name)
