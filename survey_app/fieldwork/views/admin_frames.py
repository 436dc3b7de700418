"""Sampling frames: upload, column mapping, validation report, background import with progress."""

from __future__ import annotations

from datetime import timedelta
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
from sqlalchemy.orm import Session

from survey_app.accounts.access import actor, roles_required
from survey_app.accounts.models import Role
from survey_app.core import db, frame_files
from survey_app.core.errors import NotFound, ValidationFailed
from survey_app.fieldwork.models import SamplingFrame
from survey_app.fieldwork.services import frames
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import permissions, surveys

bp = Blueprint("admin_frames", __name__, template_folder="../templates", url_prefix="/admin")


def _upload_dir() -> str:
    return str(current_app.config["FRAME_UPLOAD_DIR"])


def _keep_staged() -> timedelta:
    return timedelta(hours=int(current_app.config["STAGED_UPLOAD_HOURS"]))


def _managed(project_id: int) -> tuple[Session, SurveyProject]:
    session = db.session()
    project = surveys.get_project(session, project_id)
    permissions.require_manage_project(session, actor(), project)
    return session, project


@bp.route("/projects/<int:project_id>/frames/upload", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def upload(project_id: int) -> ResponseReturnValue:
    _session, project = _managed(project_id)
    if request.method == "POST":
        upload_file = request.files.get("file")
        try:
            if upload_file is None or not upload_file.filename:
                raise ValidationFailed("Choose a file to upload.", {"file": ["no file was chosen"]})
            staged = frame_files.stage_upload(_upload_dir(), upload_file.filename, upload_file.stream, project_id=project.id, user_id=actor().id,
                                              keep_for=_keep_staged())
        except ValidationFailed as exc:
            return render_template("fieldwork/frame_upload.html", project=project, message=exc.message, errors=exc.errors or {}), 422
        return redirect(url_for("admin_frames.mapping", project_id=project.id, token=staged.token))
    return render_template("fieldwork/frame_upload.html", project=project, message="", errors={})


def _staged(project_id: int, token: str) -> tuple[Session, SurveyProject, frame_files.StagedFile]:
    session, project = _managed(project_id)
    staged = frame_files.load_staged(_upload_dir(), token, _keep_staged())
    if staged.project_id != project.id:
        raise NotFound("This upload does not exist.")
    return session, project, staged


def _guess(columns: list[str], *hints: str) -> str:
    for column in columns:
        if any(hint in column.lower() for hint in hints):
            return column
    return ""


@bp.route("/projects/<int:project_id>/frames/staged/<token>", methods=["GET", "POST"])
@roles_required(Role.DESIGNER)
def mapping(project_id: int, token: str) -> ResponseReturnValue:
    session, project, staged = _staged(project_id, token)
    context = _mapping_context(project, staged)
    columns, chosen = context["columns"], context["chosen"]
    if request.method == "GET":
        return render_template("fieldwork/frame_mapping.html", **context)
    chunk_rows = int(current_app.config.get("FRAME_IMPORT_CHUNK_ROWS", frame_files.CHUNK_ROWS))
    try:
        column_mapping = frames.parse_mapping(columns, chosen)
        if request.form.get("action") != "import":
            context["report"] = frames.validate(staged, column_mapping, chunk_rows)
            return render_template("fieldwork/frame_mapping.html", **context), (200 if context["report"].ok else 422)
        frame, _report = frames.start_import(session, project, staged, column_mapping, name=chosen["name"], actor=actor(), chunk_rows=chunk_rows)
    except ValidationFailed as exc:
        session.rollback()
        context.update(message=exc.message, errors=exc.errors or {})
        return render_template("fieldwork/frame_mapping.html", **context), 422
    session.commit()
    frames.launch_import(current_app._get_current_object(), frame.id, staged)  # type: ignore[attr-defined]
    flash(_("The frame is being imported."), "success")
    return redirect(url_for("admin_frames.show", frame_id=frame.id))


def _mapping_context(project: SurveyProject, staged: frame_files.StagedFile) -> dict[str, Any]:
    """What the mapping page shows: the file's columns and first rows, the roles chosen (or guessed), the encodings."""
    columns = frame_files.header(staged)
    chosen: dict[str, Any] = {
        "unit_id": request.form.get("unit_id", _guess(columns, "id", "编号", "学号")),
        "stratum": request.form.get("stratum", _guess(columns, "stratum", "层")),
        "size": request.form.get("size", _guess(columns, "size", "规模")),
        "contact": request.form.getlist("contact") if "unit_id" in request.form else [c for c in columns if _guess([c], "phone", "mail", "电话", "手机", "邮箱", "name", "姓名")],
        "attributes": request.form.getlist("attributes"),
        "name": request.form.get("name", staged.filename.rsplit(".", 1)[0]),
    }
    encodings = frame_files.encoding_choices(staged) if staged.kind == "csv" else []
    return {"project": project, "staged": staged, "columns": columns, "preview": frame_files.preview(staged), "chosen": chosen,
            "encodings": encodings, "report": None, "message": "", "errors": {}}


@bp.post("/projects/<int:project_id>/frames/staged/<token>/encoding")
@roles_required(Role.DESIGNER)
def encoding(project_id: int, token: str) -> ResponseReturnValue:
    _session, project, staged = _staged(project_id, token)
    try:
        staged = frame_files.choose_encoding(staged, request.form.get("encoding", ""))
    except ValidationFailed as exc:
        context = _mapping_context(project, staged)
        context.update(message=exc.message, errors=exc.errors or {})
        return render_template("fieldwork/frame_mapping.html", **context), 422
    flash(_("The file is now read as %(encoding)s.", encoding=staged.encoding), "success")
    return redirect(url_for("admin_frames.mapping", project_id=project.id, token=staged.token))


@bp.post("/projects/<int:project_id>/frames/staged/<token>/discard")
@roles_required(Role.DESIGNER)
def discard(project_id: int, token: str) -> ResponseReturnValue:
    _session, project, staged = _staged(project_id, token)
    frame_files.discard(staged)
    flash(_("The upload was discarded."), "info")
    return redirect(url_for("admin_projects.show", project_id=project.id))


def _frame(frame_id: int) -> tuple[Session, SamplingFrame]:
    session = db.session()
    frame = frames.get_frame(session, frame_id)
    permissions.require_manage_project(session, actor(), frame.project)
    return session, frame


@bp.get("/frames/<int:frame_id>")
@roles_required(Role.DESIGNER)
def show(frame_id: int) -> ResponseReturnValue:
    session, frame = _frame(frame_id)
    if frames.fail_stalled_imports(session, frame_id=frame.id):
        session.commit()
    strata = frames.stratum_counts(session, frame) if frame.status.value == "ready" else {}
    return render_template("fieldwork/frame.html", frame=frame, project=frame.project, progress=frames.progress(frame), strata=strata)


@bp.get("/frames/<int:frame_id>/progress")
@roles_required(Role.DESIGNER)
def progress(frame_id: int) -> ResponseReturnValue:
    session, frame = _frame(frame_id)
    if frames.fail_stalled_imports(session, frame_id=frame.id):
        session.commit()
    return jsonify(frames.progress(frame))
