"""Graduate destination register pages: import, placement rates, verification samples, survey."""

from __future__ import annotations

from typing import Any

from flask import (
    Blueprint,
    current_app,
    flash,
    jsonify,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import AppError, Forbidden, NotFound, ValidationFailed
from survey_app.core.i18n import ENUM_LABELS
from survey_app.graduates.models import DrawPurpose, GraduateSampleUnit
from survey_app.graduates.services import (
    graduates_access,
    graduates_fieldwork,
    graduates_identity,
    graduates_register,
    graduates_reports,
    graduates_survey,
    graduates_verification,
)
from survey_app.graduates.services.graduates_codes import CODE_LABELS

bp = Blueprint("admin_graduates", __name__, template_folder="../templates", url_prefix="/admin/graduates")


ENUM_LABELS.update({
    "junior_college": _l("Junior college (专科)"), "bachelor": _l("Bachelor (本科)"), "master": _l("Master (硕士)"), "doctor": _l("Doctorate (博士)"),
    "male": _l("Male"), "female": _l("Female"), "confirmed": _l("Confirmed"), "different": _l("Different destination"),
    "unreachable": _l("Unreachable"), "respondent": _l("Respondent"), "nonrespondent": _l("Nonrespondent"),
    "publish": _l("Publish"), "caution": _l("Use with caution"), "suppress": _l("Suppressed"),
})


STAFF = (Role.DESIGNER,)  # designers and administrators


def _index_context(session: Any, **extra: Any) -> dict[str, Any]:
    user = actor()
    context = {
        "cohorts": graduates_reports.cohort_summary(session),
        "verifications": graduates_access.visible_draws(session, user, graduates_verification.list_draws(session, DrawPurpose.VERIFICATION)),
        "surveys": graduates_access.visible_draws(session, user, graduates_verification.list_draws(session, DrawPurpose.SURVEY)),
        "projects": graduates_access.draw_projects(session, user),
        "values": request.values.to_dict(), "message": "", "errors": {}, "form": "",
    }
    context.update(extra)
    return context


def _rejected(session: Any, form: str, exc: AppError) -> ResponseReturnValue:
    session.rollback()
    context = _index_context(session, message=exc.message, errors=exc.errors or {}, form=form)
    return render_template("graduates/index.html", **context), exc.status


@bp.get("/")
@roles_required(*STAFF)
def index() -> ResponseReturnValue:
    session = db.session()
    graduates_access.require_register(session, actor())
    return render_template("graduates/index.html", **_index_context(session))


@bp.post("/import")
@roles_required(*STAFF)
def import_register() -> ResponseReturnValue:
    session = db.session()
    graduates_access.require_register(session, actor())
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed(_("Choose a CSV or XLSX file."), {"file": [_("is required")]})
        cohort = graduates_reports.parse_number(request.form.get("cohort"), "cohort", int, low=2000)
        effective_on = graduates_reports.parse_date(request.form.get("effective_on"), "effective_on")
        result = graduates_register.import_graduates(session, upload.read(), upload.filename, cohort=cohort, effective_on=effective_on, actor=actor())
    except AppError as exc:
        return _rejected(session, "import", exc)
    session.commit()
    flash(_("Imported %(rows)d rows: %(created)d new graduates, %(updated)d changed destinations.",
            rows=result.rows, created=result.created, updated=result.updated), "success")
    return redirect(url_for("admin_graduates.index"))


@bp.get("/<int:cohort>/rates")
@roles_required(*STAFF)
def rates(cohort: int) -> ResponseReturnValue:
    session = db.session()
    graduates_access.require_register(session, actor())
    values = request.args.to_dict()
    try:
        report = graduates_reports.rates_report(session, cohort, values, min_count=current_app.config["GRADUATE_MIN_CELL_COUNT"])
    except AppError as exc:
        return render_template("graduates/rates.html", cohort=cohort, report=None, values=values, message=exc.message,
                               errors=exc.errors or {}), exc.status
    return render_template("graduates/rates.html", cohort=cohort, report=report, values=values, message="", errors={},
                           group_label=graduates_reports.group_label)


@bp.get("/<int:cohort>/register")
@roles_required(*STAFF)
def register(cohort: int) -> ResponseReturnValue:
    institution = request.args.get("institution", "")
    session = db.session()
    graduates_access.require_register(session, actor())
    rows, total, page = graduates_register.graduate_page(session, cohort, institution=institution or None,
                                                         page=request.args.get("page", 1, type=int))
    return render_template("graduates/register.html", cohort=cohort, rows=rows, total=total, page=page, institution=institution,
                           institutions=graduates_register.institutions(session, cohort), code_labels=CODE_LABELS)


@bp.route("/graduate/<int:graduate_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def graduate(graduate_id: int) -> ResponseReturnValue:
    """A graduate's record with the identifying fields masked; a POST with a typed purpose shows them
    in clear to those who may see them. Every view is logged."""
    session = db.session()
    user = actor()
    graduates_access.require_register(session, user)
    person = graduates_register.get_graduate(session, graduate_id)
    message, errors, status = "", {}, 200
    identity = None
    if request.method == "POST":
        try:
            identity = graduates_identity.reveal(session, person, actor=user, purpose=request.form.get("purpose", ""))
        except ValidationFailed as exc:
            session.rollback()
            message, errors, status = exc.message, exc.errors or {}, exc.status
    if identity is None:
        identity = graduates_identity.identity(session, person, actor=user)
    history = graduates_register.history(session, person)
    session.commit()  # the access log entry
    return render_template("graduates/graduate.html", person=person, identity=identity, history=history, code_labels=CODE_LABELS,
                           can_reveal=graduates_access.can_reveal(session, user, person), message=message, errors=errors), status


@bp.post("/verification")
@roles_required(*STAFF)
def draw_verification() -> ResponseReturnValue:
    session = db.session()
    graduates_access.require_register(session, actor())
    try:
        project = graduates_access.project_to_draw_for(session, actor(), request.form.get("project_id"))
        cohort = graduates_reports.parse_number(request.form.get("cohort"), "cohort", int, low=2000)
        params = graduates_reports.verification_params(request.form, cohort)
        record = graduates_verification.draw_verification_sample(session, cohort, project=project, actor=actor(), **params)
    except AppError as exc:
        return _rejected(session, "verification", exc)
    session.commit()
    flash(_("Verification sample drawn: %(n)d graduates.", n=record.sample_size), "success")
    return redirect(url_for("admin_graduates.verification", draw_id=record.id))


@bp.get("/verification/<int:draw_id>")
@roles_required(*STAFF)
def verification(draw_id: int) -> ResponseReturnValue:
    session = db.session()
    record = graduates_verification.get_draw(session, draw_id, DrawPurpose.VERIFICATION)
    graduates_access.require_draw(session, actor(), record)
    pending = request.args.get("pending", "1") == "1"
    units = graduates_verification.unit_page(session, record, pending_only=pending, page=request.args.get("page", 1, type=int))
    return render_template("graduates/verification.html", draw=record, report=graduates_reports.verification_report(session, record),
                           units=units, pending=pending, message="", errors={})


@bp.post("/verification/<int:draw_id>/outcomes")
@roles_required(*STAFF)
def import_outcomes(draw_id: int) -> ResponseReturnValue:
    session = db.session()
    record = graduates_verification.get_draw(session, draw_id, DrawPurpose.VERIFICATION)
    graduates_access.require_draw(session, actor(), record)
    upload = request.files.get("file")
    try:
        if upload is None or not upload.filename:
            raise ValidationFailed(_("Choose a CSV or XLSX file."), {"file": [_("is required")]})
        count = graduates_verification.import_outcomes(session, record, upload.read(), upload.filename, actor=actor())
    except AppError as exc:
        session.rollback()
        units = graduates_verification.unit_page(session, record, pending_only=True, page=1)
        return render_template("graduates/verification.html", draw=record, report=graduates_reports.verification_report(session, record),
                               units=units, pending=True, message=exc.message, errors=exc.errors or {}), exc.status
    session.commit()
    flash(_("Recorded %(n)d callback outcomes.", n=count), "success")
    return redirect(url_for("admin_graduates.verification", draw_id=draw_id))


@bp.route("/units/<int:unit_id>", methods=["GET", "POST"])
@roles_required(*STAFF)
def unit(unit_id: int) -> ResponseReturnValue:
    """Callback entry for one sampled graduate: contact details masked, shown in clear on a POST
    with ``action=reveal`` and a typed purpose (logged); any other POST records the outcome."""
    session = db.session()
    user = actor()
    sampled = session.get(GraduateSampleUnit, unit_id)
    if sampled is None or sampled.draw.purpose != DrawPurpose.VERIFICATION:
        raise NotFound(_("No such sampled graduate."))
    graduates_access.require_draw(session, user, sampled.draw)
    message, errors, status = "", {}, 200
    identity = None
    if request.method == "POST" and request.form.get("action") == "reveal":
        try:
            identity = graduates_identity.reveal(session, sampled.graduate, actor=user, purpose=request.form.get("purpose", ""))
        except ValidationFailed as exc:
            session.rollback()
            message, errors, status = exc.message, exc.errors or {}, exc.status
    elif request.method == "POST":
        try:
            graduates_verification.record_outcome(
                session, sampled, outcome=request.form.get("outcome", ""), verified_code=request.form.get("verified_code", ""),
                attempts=graduates_reports.parse_number(request.form.get("attempts"), "attempts", int, default=1, low=0),
                note=request.form.get("note", ""), actor=actor())
        except AppError as exc:
            session.rollback()
            message, errors, status = exc.message, exc.errors or {}, exc.status
        else:
            session.commit()
            flash(_("Callback outcome recorded."), "success")
            return redirect(url_for("admin_graduates.verification", draw_id=sampled.draw_id))
    if identity is None:
        identity = graduates_identity.identity(session, sampled.graduate, actor=user, purpose="verification callback")
    session.commit()
    return render_template("graduates/unit.html", unit=sampled, identity=identity, code_labels=CODE_LABELS,
                           message=message, errors=errors), status


@bp.post("/survey")
@roles_required(*STAFF)
def draw_survey() -> ResponseReturnValue:
    session = db.session()
    graduates_access.require_register(session, actor())
    try:
        project = graduates_access.project_to_draw_for(session, actor(), request.form.get("project_id"))
        cohort = graduates_reports.parse_number(request.form.get("cohort"), "cohort", int, low=2000)
        params = graduates_reports.survey_params(request.form, cohort)
        record = graduates_survey.draw_survey_sample(session, cohort, project=project, actor=actor(), **params)
    except AppError as exc:
        return _rejected(session, "survey", exc)
    session.commit()
    flash(_("Survey sample drawn: %(n)d graduates.", n=record.sample_size), "success")
    return redirect(url_for("admin_graduates.survey", draw_id=record.id))


@bp.get("/survey/<int:draw_id>")
@roles_required(*STAFF, Role.STATISTICIAN)
def survey(draw_id: int) -> ResponseReturnValue:
    session = db.session()
    user = actor()
    record = graduates_verification.get_draw(session, draw_id, DrawPurpose.SURVEY)
    graduates_access.require_draw(session, user, record, results=True)
    try:
        report = graduates_reports.survey_report(session, record)
    except AppError as exc:
        return render_template("graduates/survey.html", draw=record, report=None, message=exc.message, errors=exc.errors or {},
                               fieldwork=None, projects=[]), exc.status
    project = graduates_access.draw_project(session, record)
    may_change = graduates_access.can_open_draw(session, user, record)
    projects = ([project] if project is not None else graduates_access.draw_projects(session, user)) if may_change else []
    return render_template("graduates/survey.html", draw=record, report=report, message="", errors={},
                           fieldwork=graduates_fieldwork.fieldwork_summary(record), projects=projects, may_change=may_change)


@bp.post("/survey/<int:draw_id>/fieldwork")
@roles_required(*STAFF)
def survey_fieldwork(draw_id: int) -> ResponseReturnValue:
    """Start fieldwork in a survey project (``project_id``), read its responses back (``action=collect``) or
    compute the register-calibrated weighting scheme for the statistics API (``action=scheme``); every
    action checks that the user manages the draw's project."""
    session = db.session()
    record = graduates_verification.get_draw(session, draw_id, DrawPurpose.SURVEY)
    graduates_access.require_draw(session, actor(), record)
    try:
        if request.form.get("action") == "collect":
            count = graduates_fieldwork.collect(session, record, actor=actor())
            message = _("Read %(n)d complete questionnaire responses.", n=count)
        elif request.form.get("action") == "scheme":
            scheme = graduates_fieldwork.create_weighting_scheme(session, record, actor=actor())
            message = _("Weighting scheme #%(id)d computed for the statistics API.", id=scheme.id)
        else:
            project = graduates_access.project_to_draw_for(session, actor(), request.form.get("project_id"))
            sample = graduates_fieldwork.publish(session, record, project, actor=actor())
            message = _("Fieldwork started: %(n)d personal invitations in sample draw #%(id)d.", n=sample.sample_size, id=sample.id)
    except Forbidden:
        raise
    except AppError as exc:
        session.rollback()
        flash(exc.message, "error")
        return redirect(url_for("admin_graduates.survey", draw_id=draw_id))
    session.commit()
    flash(message, "success")
    return redirect(url_for("admin_graduates.survey", draw_id=draw_id))


@bp.get("/draws/<int:draw_id>/manifest.json")
@roles_required(*STAFF)
def manifest(draw_id: int) -> ResponseReturnValue:
    session = db.session()
    record = graduates_verification.get_draw(session, draw_id)
    graduates_access.require_draw(session, actor(), record)
    response = jsonify({"draw_id": record.id, "purpose": record.purpose.value, "cohort": record.cohort, "seed": record.seed,
                        "parameters": record.parameters, "manifest": record.manifest})
    response.headers["Content-Disposition"] = f'attachment; filename="graduate-draw-{record.id}-manifest.json"'
    return response
