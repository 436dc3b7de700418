"""Satisfaction evaluations: population tables, index configurations, quotas, runs and county reports."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from flask_babel import get_locale
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from sqlalchemy.orm import Session

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import AppError, NotFound, ValidationFailed
from survey_app.core.i18n import ENUM_LABELS
from survey_app.fieldwork.services import invitations
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import permissions, surveys
from survey_app.respond.services import quotas
from survey_app.satisfaction.models import CountyLink, SatisfactionRun
from survey_app.satisfaction.services import satisfaction, satisfaction_report

bp = Blueprint("admin_satisfaction", __name__, template_folder="../templates", url_prefix="/admin/satisfaction")


ENUM_LABELS.update({"urban": _l("Urban"), "rural": _l("Rural"), "expert": _l("Expert weights"), "loadings": _l("Model loadings"), "units": _l("Units"),
                    "inspectors": _l("Inspectors")})


def _language() -> str:
    locale = get_locale()
    return "zh_CN" if locale is not None and locale.language == "zh" else "en"


def _managed(project_id: int) -> SurveyProject:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_manage_project(session, actor(), project)
    return project


def _run(run_id: int) -> SatisfactionRun:
    session = db.session()
    record = satisfaction.get_run(session, run_id)
    project = surveys.get_project(session, record.project_id)
    permissions.require_read_results(session, actor(), project)
    return record


def _labels(run: SatisfactionRun) -> tuple[dict[str, dict[str, str]], dict[str, dict[str, str]]]:
    session = db.session()
    version = satisfaction.published_version(session, surveys.get_project(session, run.project_id))
    items = {i.name: i.label for i in satisfaction.scale_items(version.definition)}
    return items, satisfaction.choice_labels(version.definition, "county")


@bp.get("/")
@roles_required(Role.DESIGNER, Role.STATISTICIAN)
def index() -> ResponseReturnValue:
    session = db.session()
    projects = permissions.visible_projects(session, actor())
    return render_template("satisfaction/index.html", projects=projects,
                           runs=satisfaction.latest_runs(session, [p.id for p in projects]))


@bp.get("/<int:project_id>")
@roles_required(Role.DESIGNER)
def overview(project_id: int) -> ResponseReturnValue:
    return _overview(project_id)


def _overview(project_id: int, message: str = "", errors: dict[str, Any] | None = None, status: int = 200) -> ResponseReturnValue:
    session = db.session()
    project = _managed(project_id)
    others = [p for p in permissions.visible_projects(session, actor())
              if p.id != project.id and permissions.can_manage_project(session, actor(), p)]
    return render_template(
        "satisfaction/overview.html", project=project, tables=satisfaction.population_tables(session, project),
        configs=satisfaction.index_configs(session, project), runs=satisfaction.runs(session, project),
        links=satisfaction.county_links(session, project), others=others, message=message, errors=errors or {},
        link_url=lambda link: invitations.respondent_url(link.invitation),
    ), status


def _write(project_id: int, action: Callable[[Session, SurveyProject], str | None], done: str) -> ResponseReturnValue:
    """Run ``action`` for a managed project, commit, flash ``done`` and redirect (errors: the overview with the message)."""
    session = db.session()
    project = _managed(project_id)
    try:
        target = action(session, project)
        session.commit()
    except AppError as exc:
        session.rollback()
        return _overview(project_id, message=exc.message, errors=exc.errors, status=exc.status)
    flash(done, "success")
    return redirect(target or url_for("admin_satisfaction.overview", project_id=project_id), code=303)


@bp.post("/<int:project_id>/population")
@roles_required(Role.DESIGNER)
def upload_population(project_id: int) -> ResponseReturnValue:
    upload = request.files.get("file")

    def action(session: Session, project: SurveyProject) -> None:
        if upload is None or not upload.filename:
            raise ValidationFailed("Choose a CSV or XLSX file.", {"file": ["no file"]})
        satisfaction.upload_population(session, project, upload.read(), upload.filename, name=request.form.get("name", ""),
                                       actor=actor())

    return _write(project_id, action, _("Population table stored."))


@bp.post("/<int:project_id>/indices")
@roles_required(Role.DESIGNER)
def add_index(project_id: int) -> ResponseReturnValue:
    def action(session: Session, project: SurveyProject) -> None:
        satisfaction.save_index_config(session, project, request.form.get("name", ""), request.form.get("weights", ""),
                                       note=request.form.get("note", ""), loadings=request.form.get("method") == "loadings",
                                       actor=actor())

    return _write(project_id, action, _("Index configuration saved."))


@bp.post("/<int:project_id>/runs")
@roles_required(Role.DESIGNER)
def start_run(project_id: int) -> ResponseReturnValue:
    def action(session: Session, project: SurveyProject) -> str:
        table = satisfaction.get_population_table(session, project, int(request.form.get("population_table_id") or 0))
        config_id = request.form.get("index_config_id")
        config = (satisfaction.get_index_config(session, project, int(config_id)) if config_id
                  else satisfaction.default_index_config(session, project, actor=actor()))
        record = satisfaction.run(session, project, table, config, ranking=request.form.get("ranking") or "simulation",
                                  actor=actor())
        return url_for("admin_satisfaction.show_run", run_id=record.id)

    return _write(project_id, action, _("Estimates computed."))


@bp.post("/<int:project_id>/links")
@roles_required(Role.DESIGNER)
def add_links(project_id: int) -> ResponseReturnValue:
    def action(session: Session, project: SurveyProject) -> None:
        satisfaction.create_county_links(session, project, actor=actor())

    return _write(project_id, action, _("County links created."))


@bp.post("/<int:project_id>/copy")
@roles_required(Role.DESIGNER)
def copy_questionnaire(project_id: int) -> ResponseReturnValue:
    def action(session: Session, project: SurveyProject) -> str:
        target = surveys.get_project(session, int(request.form.get("target_id") or 0))
        permissions.require_manage_project(session, actor(), target)
        satisfaction.copy_questionnaire(session, project, target, actor=actor())
        return url_for("admin_satisfaction.overview", project_id=project_id)

    return _write(project_id, action, _("The questionnaire was copied as a new draft."))


@bp.get("/links/<int:link_id>/qr.svg")
@roles_required(Role.DESIGNER)
def link_qr(link_id: int) -> ResponseReturnValue:
    link = db.session().get(CountyLink, link_id)
    if link is None:
        raise NotFound(f"County link {link_id} does not exist.")
    _managed(link.project_id)
    return Response(satisfaction.qr_svg(invitations.respondent_url(link.invitation)), mimetype="image/svg+xml")


@bp.route("/<int:project_id>/quotas", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def quota_page(project_id: int) -> ResponseReturnValue:
    session = db.session()
    project = _managed(project_id)
    message, status = "", 200
    errors: dict[str, Any] = {}
    if request.method == "POST":
        try:
            if request.form.get("action") == "population":
                table = satisfaction.get_population_table(session, project, int(request.form.get("population_table_id") or 0))
                targets, shares = quotas.targets_from_population(
                    satisfaction.population_frame(table), base=int(request.form.get("base") or 300),
                    large=int(request.form.get("large") or 400), threshold=int(request.form.get("threshold") or 500_000))
            else:
                targets, shares = quotas.parse_form(request.form.get("targets", ""), request.form.get("urban_share", ""))
            quotas.set_county_quotas(session, project, targets, area_shares=shares, actor=actor())
            session.commit()
            flash(_("Quotas saved."), "success")
            return redirect(url_for("admin_satisfaction.quota_page", project_id=project_id), code=303)
        except ValueError:
            session.rollback()
            message, errors, status = _("Quota settings must be whole numbers."), {}, 422
        except AppError as exc:
            session.rollback()
            message, errors, status = exc.message, exc.errors or {}, exc.status
    return render_template("satisfaction/quotas.html", project=project, rows=quotas.fill_table(session, project),
                           names=satisfaction.county_names(session, project, _language()),
                           tables=satisfaction.population_tables(session, project), message=message, errors=errors), status


@bp.get("/runs/<int:run_id>")
@roles_required(Role.DESIGNER, Role.STATISTICIAN)
def show_run(run_id: int) -> ResponseReturnValue:
    record = _run(run_id)
    items, counties = _labels(record)
    overall = satisfaction_report.county_report(record, "", items, counties, _language(), _("All counties"))
    return render_template("satisfaction/run.html", run=record, overall=overall,
                           ranking=satisfaction_report.ranking(record, counties, _language()))


@bp.get("/runs/<int:run_id>/county/<county>")
@roles_required(Role.DESIGNER, Role.STATISTICIAN)
def county(run_id: int, county: str) -> ResponseReturnValue:
    record = _run(run_id)
    items, counties = _labels(record)
    report = satisfaction_report.county_report(record, "" if county == "all" else county, items, counties, _language(),
                                               _("All counties"))
    if report is None:
        raise NotFound(f"No estimates for county {county!r} in this run.")
    template = "satisfaction/county_print.html" if request.args.get("print") else "satisfaction/county.html"
    return render_template(template, run=record, report=report, county_code=county,
                           chart=satisfaction_report.inline(satisfaction_report.chart_svg(
                               report, report.name, _("Mean on 0-100 with 95% CI"), _("Composite index"))))


@bp.get("/runs/<int:run_id>.xlsx")
@roles_required(Role.DESIGNER, Role.STATISTICIAN)
def workbook(run_id: int) -> ResponseReturnValue:
    record = _run(run_id)
    items, counties = _labels(record)
    data = satisfaction_report.workbook(record, items, counties, _language(), {
        "title": _("Public satisfaction evaluation: estimates"), "all": _("All counties"),
        "label": _("Results from a non-probability (opt-in) sample, weighted to population counts.")})
    return Response(data, mimetype="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                    headers={"Content-Disposition": f'attachment; filename="satisfaction-run-{record.id}.xlsx"'})
