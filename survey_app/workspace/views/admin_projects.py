"""Survey projects: create, edit (statutory labels, fieldwork window, owner, status), grants, registry."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField, TextAreaField

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import ValidationFailed
from survey_app.core.forms import form_values
from survey_app.core.i18n import enum_label
from survey_app.fieldwork.services import frames, samples
from survey_app.projects.models import SurveyProject, SurveyStatus
from survey_app.projects.services import permissions, project_admin, surveys
from survey_app.workspace.services import registry as approved_surveys

bp = Blueprint("admin_projects", __name__, template_folder="../templates", url_prefix="/admin")


DATE = {"type": "date"}


class ProjectForm(FlaskForm):
    code = StringField(_l("Code (lower-case letters, digits, hyphens)"))
    title = StringField(_l("Title"))
    title_en = StringField(_l("English title"))
    description = TextAreaField(_l("Description"))
    form_number = StringField(_l("Form number"))
    issuing_authority = StringField(_l("Issuing authority"))
    approval_number = StringField(_l("Approval number"))
    valid_until = StringField(_l("Valid until"), render_kw=DATE)
    target_population = StringField(_l("Target population"))
    indicators = TextAreaField(_l("Indicators (one per line)"))
    fieldwork_start = StringField(_l("Fieldwork starts"), render_kw=DATE)
    fieldwork_end = StringField(_l("Fieldwork ends"), render_kw=DATE)
    status = SelectField(_l("Status"), choices=[])
    owner_id = SelectField(_l("Owner"), choices=[], validate_choice=False)


def _values(form: ProjectForm) -> dict[str, object]:
    values = {k: v for k, v in form_values(form).items() if v is not None}
    values["indicators"] = [line.strip() for line in str(values.get("indicators") or "").splitlines() if line.strip()]
    for key in ("fieldwork_start", "fieldwork_end"):
        values[key] = values.get(key) or None
    if actor().role != Role.ADMIN:
        values.pop("owner_id", None)
    return values


def _form(project: SurveyProject | None = None) -> ProjectForm:
    form = ProjectForm(obj=project) if project is not None and request.method == "GET" else ProjectForm()
    statuses = list(SurveyStatus)
    if project is not None and not permissions.can_administer_project(db.session(), actor(), project):
        # archiving is the owner's (or an admin's); a granted designer keeps the status it has
        statuses = [SurveyStatus.ARCHIVED] if project.status == SurveyStatus.ARCHIVED else [s for s in statuses if s != SurveyStatus.ARCHIVED]
    form.status.choices = [(s.value, enum_label(s.value)) for s in statuses]
    form.owner_id.choices = [("", "—")] + [(str(u.id), f"{u.display_name} <{u.email}>") for u in project_admin.designers(db.session())]
    if project is not None and request.method == "GET":
        form.indicators.data = "\n".join(project.indicators or [])
        form.owner_id.data = str(project.owner_id or "")
        form.status.data = project.status.value
        for key in ("valid_until", "fieldwork_start", "fieldwork_end"):
            value = getattr(project, key)
            getattr(form, key).data = value.isoformat() if value else ""
    return form


@bp.route("/projects/new", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def new_project() -> ResponseReturnValue:
    form = _form()
    if request.method == "POST":
        session = db.session()
        try:
            project = project_admin.create(session, _values(form), actor=actor())
        except ValidationFailed as exc:
            session.rollback()
            return render_template("workspace/project_form.html", form=form, project=None, errors=exc.errors or {}, message=exc.message), 422
        session.commit()
        flash(_("Survey project created."), "success")
        return redirect(url_for("admin_projects.show", project_id=project.id))
    return render_template("workspace/project_form.html", form=form, project=None, errors={}, message="")


@bp.get("/projects/<int:project_id>")
@roles_required(Role.DESIGNER)
def show(project_id: int) -> ResponseReturnValue:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_manage_project(session, actor(), project)
    return render_template(
        "workspace/project.html",
        project=project,
        frames=frames.list_frames(session, project),
        draws=samples.list_draws(session, project),
        grants=project_admin.grants(session, project),
        can_administer=permissions.can_administer_project(session, actor(), project),
        designers=[u for u in project_admin.designers(session) if u.role == Role.DESIGNER and u.id != project.owner_id],
    )


@bp.route("/projects/<int:project_id>/edit", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def edit(project_id: int) -> ResponseReturnValue:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_manage_project(session, actor(), project)
    form = _form(project)
    if request.method == "POST":
        try:
            project_admin.update(session, project, _values(form), actor=actor())
        except ValidationFailed as exc:
            session.rollback()
            return render_template("workspace/project_form.html", form=form, project=project, errors=exc.errors or {}, message=exc.message), 422
        session.commit()
        flash(_("Survey project saved."), "success")
        return redirect(url_for("admin_projects.show", project_id=project.id))
    return render_template("workspace/project_form.html", form=form, project=project, errors={}, message="")


@bp.post("/projects/<int:project_id>/grants")
@roles_required(Role.DESIGNER)
def add_grant(project_id: int) -> ResponseReturnValue:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_administer_project(session, actor(), project)
    try:
        user_id = int(request.form.get("user_id", ""))
    except ValueError:
        raise ValidationFailed("Choose a designer.", {"user_id": ["choose a designer"]}) from None
    project_admin.grant(session, project, user_id, actor=actor())
    session.commit()
    flash(_("Access granted."), "success")
    return redirect(url_for("admin_projects.show", project_id=project.id))


@bp.post("/projects/<int:project_id>/grants/<int:grant_id>/delete")
@roles_required(Role.DESIGNER)
def revoke_grant(project_id: int, grant_id: int) -> ResponseReturnValue:
    session = db.session()
    project = surveys.get_project(session, project_id)
    project_admin.revoke(session, project, grant_id, actor=actor())
    session.commit()
    flash(_("Access revoked."), "success")
    return redirect(url_for("admin_projects.show", project_id=project.id))


@bp.get("/registry")
@roles_required(Role.DESIGNER, Role.STATISTICIAN, Role.REVIEWER)
def registry() -> ResponseReturnValue:
    entries, overlaps = approved_surveys.registry(db.session(), date.today())
    return render_template("workspace/registry.html", entries=entries, overlaps=overlaps)
