"""Survey projects: validation, creation, updates and look-ups."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import Conflict, NotFound, ValidationFailed
from survey_app.projects.models import SurveyProject, SurveyStatus


class SurveyProjectSchema(Schema):
    """Input for creating or editing a survey project."""

    code = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]{1,62}$"))
    title = fields.String(required=True, validate=validate.Length(min=1, max=300))
    title_en = fields.String(load_default="", validate=validate.Length(max=300))
    description = fields.String(load_default="")
    form_number = fields.String(required=True, validate=validate.Length(min=1, max=100))
    issuing_authority = fields.String(required=True, validate=validate.Length(min=1, max=200))
    approval_number = fields.String(required=True, validate=validate.Length(min=1, max=100))
    valid_until = fields.Date(required=True)
    target_population = fields.String(load_default="", validate=validate.Length(max=300))
    indicators = fields.List(fields.String(validate=validate.Length(min=1, max=200)), load_default=list)
    fieldwork_start = fields.Date(load_default=None, allow_none=True)
    fieldwork_end = fields.Date(load_default=None, allow_none=True)
    status = fields.Enum(SurveyStatus, by_value=True, load_default=SurveyStatus.DRAFT)

    @validates_schema
    def _window(self, data: Mapping[str, Any], **_: Any) -> None:
        start, end = data.get("fieldwork_start"), data.get("fieldwork_end")
        if start and end and start > end:
            raise ValidationError("must not be before fieldwork_start", "fieldwork_end")
        if end and data.get("valid_until") and end > data["valid_until"]:
            raise ValidationError(
                "fieldwork cannot end after the approval's validity (valid_until)", "fieldwork_end"
            )


def list_projects(session: Session) -> list[SurveyProject]:
    return list(session.scalars(select(SurveyProject).order_by(SurveyProject.valid_until.desc(), SurveyProject.id)))


def get_project(session: Session, project_id: int) -> SurveyProject:
    project = session.get(SurveyProject, project_id)
    if project is None:
        raise NotFound(f"Survey project {project_id} does not exist.")
    return project


def get_project_by_code(session: Session, code: str) -> SurveyProject:
    project = session.scalars(select(SurveyProject).where(SurveyProject.code == code)).one_or_none()
    if project is None:
        raise NotFound(f"Survey project {code!r} does not exist.")
    return project


def _load(data: Mapping[str, Any], *, partial: bool = False) -> dict[str, Any]:
    try:
        loaded: dict[str, Any] = SurveyProjectSchema().load(dict(data), partial=partial)
    except ValidationError as exc:
        raise ValidationFailed("The survey project is not valid.", exc.normalized_messages()) from exc
    return loaded


def create_project(session: Session, data: Mapping[str, Any], *, actor: User | None = None, actor_label: str | None = None) -> SurveyProject:
    values = _load(data)
    if session.scalars(select(SurveyProject.id).where(SurveyProject.code == values["code"])).first():
        raise Conflict(f"A survey project with code {values['code']!r} already exists.", {"code": ["already taken"]})
    project = SurveyProject(**values, owner_id=actor.id if actor else None)
    session.add(project)
    session.flush()
    audit.record(session, "survey.create", actor=actor, actor_label=actor_label, object_type="survey_project", object_id=project.id, after=audit.snapshot(project))
    return project


def update_project(session: Session, project: SurveyProject, data: Mapping[str, Any], *, actor: User | None = None) -> SurveyProject:
    before = audit.snapshot(project)
    merged = {**before, **dict(data)}
    merged = {k: v for k, v in merged.items() if k in SurveyProjectSchema().fields}
    values = _load(merged)
    if values["code"] != project.code and session.scalars(select(SurveyProject.id).where(SurveyProject.code == values["code"])).first():
        raise Conflict(f"A survey project with code {values['code']!r} already exists.", {"code": ["already taken"]})
    for key, value in values.items():
        setattr(project, key, value)
    session.flush()
    audit.record(session, "survey.update", actor=actor, object_type="survey_project", object_id=project.id, before=before, after=audit.snapshot(project))
    return project


def is_open(project: SurveyProject, today: date | None = None) -> bool:
    return project.accepts_responses_on(today or date.today())
