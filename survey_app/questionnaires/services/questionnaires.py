"""Questionnaires: XLSForm import into a draft version, publishing, versions, export."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Any

from flask_babel import gettext as _
from sqlalchemy import Integer, bindparam, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.base import ExecutableOption

from survey_app.accounts.models import User
from survey_app.accounts.services import audit
from survey_app.core.errors import Conflict, NotFound, ValidationFailed
from survey_app.core.models import utcnow
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.engine.definition import DefinitionError, Problem
from survey_app.questionnaires.engine.xlsform import build_xlsform, parse_xlsform
from survey_app.questionnaires.models import Questionnaire, QuestionnaireVersion, VersionStatus

MAX_XLSFORM_BYTES = 5 * 1024 * 1024


class XLSFormRejected(ValidationFailed):
    """The uploaded XLSForm is not valid; ``problems`` locate each problem (sheet, row, column)."""

    def __init__(self, problems: list[Problem]) -> None:
        errors: dict[str, list[str]] = {}
        for problem in problems:
            errors.setdefault(problem.where(), []).append(problem.message)
        super().__init__(_("The XLSForm has %(count)d problem(s); nothing was stored.", count=len(problems)), errors)
        self.problems = problems


def get_questionnaire(session: Session, project: SurveyProject) -> Questionnaire | None:
    return session.scalars(select(Questionnaire).where(Questionnaire.project_id == project.id)).one_or_none()


def list_versions(session: Session, project: SurveyProject) -> list[QuestionnaireVersion]:
    """Every version, newest first."""
    return list(session.scalars(
        select(QuestionnaireVersion).join(Questionnaire)
        .where(Questionnaire.project_id == project.id)
        .order_by(QuestionnaireVersion.number.desc())
    ))


def get_version(session: Session, project: SurveyProject, version_id: int) -> QuestionnaireVersion:
    version = session.get(QuestionnaireVersion, version_id)
    if version is None or version.questionnaire.project_id != project.id:
        raise NotFound(f"Questionnaire version {version_id} does not exist in survey project {project.code!r}.")
    return version


def current_published(session: Session, project_id: int, *,
                      options: Sequence[ExecutableOption] = ()) -> QuestionnaireVersion | None:
    """The newest published version: what new respondents answer (``options``: e.g. deferred columns)."""
    statement = _CURRENT_PUBLISHED.options(*options) if options else _CURRENT_PUBLISHED
    return session.scalars(statement, {"project_id": project_id}).first()


# Built once: it runs on every respondent's page (only the parameter changes).
_CURRENT_PUBLISHED = (
    select(QuestionnaireVersion).join(Questionnaire)
    .where(Questionnaire.project_id == bindparam("project_id", type_=Integer),
           QuestionnaireVersion.status == VersionStatus.PUBLISHED)
    .order_by(QuestionnaireVersion.number.desc()).limit(1)
)


def parse_upload(data: bytes) -> dict[str, Any]:
    """The validated definition of an uploaded XLSForm, or :class:`XLSFormRejected`."""
    if not data:
        raise XLSFormRejected([Problem("file", None, None, _("the file is empty"))])
    if len(data) > MAX_XLSFORM_BYTES:
        raise XLSFormRejected([Problem("file", None, None, _("the file is larger than %(limit)d MB", limit=MAX_XLSFORM_BYTES // 1024 // 1024))])
    try:
        return parse_xlsform(data)
    except DefinitionError as exc:
        raise XLSFormRejected(exc.problems) from exc


def import_xlsform(session: Session, project: SurveyProject, data: bytes, filename: str, *,
                   actor: User | None = None, actor_label: str | None = None) -> QuestionnaireVersion:
    """Validate an XLSForm and store it as the draft version.

    An existing draft is replaced; when the newest version is published a new draft version is
    created (published versions never change). An invalid form stores nothing.
    """
    definition = parse_upload(data)
    questionnaire = get_questionnaire(session, project)
    if questionnaire is None:
        questionnaire = Questionnaire(project_id=project.id)
        session.add(questionnaire)
        session.flush()
    questionnaire.title = _title(definition)
    newest = session.scalars(
        select(QuestionnaireVersion).where(QuestionnaireVersion.questionnaire_id == questionnaire.id)
        .order_by(QuestionnaireVersion.number.desc()).limit(1)
    ).first()
    sha = hashlib.sha256(data).hexdigest()
    if newest is not None and not newest.is_published:
        version = newest
        version.replace_definition(definition, filename=filename[:300], source=data, sha256=sha)
        action = "questionnaire.draft_replace"
    else:
        number = (newest.number + 1) if newest is not None else 1
        version = QuestionnaireVersion(questionnaire_id=questionnaire.id, number=number, definition=definition,
                                       source_filename=filename[:300], source_xlsform=data, source_sha256=sha,
                                       created_by_id=actor.id if actor else None)
        session.add(version)
        action = "questionnaire.draft_create"
    session.flush()
    audit.record(session, action, actor=actor, actor_label=actor_label, object_type="questionnaire_version",
                 object_id=version.id, details={"project": project.code, "number": version.number,
                                                "filename": filename, "sha256": sha})
    return version


def _title(definition: dict[str, Any]) -> str:
    titles = definition["settings"]["title"]
    return str(titles.get(definition["settings"]["default_language"]) or next(iter(titles.values()), ""))[:300]


def publish(session: Session, version: QuestionnaireVersion, *, actor: User | None = None,
            actor_label: str | None = None) -> QuestionnaireVersion:
    """Freeze a draft version; new respondents get it from now on."""
    if version.is_published:
        raise Conflict(f"Version {version.number} is already published.")
    version.status = VersionStatus.PUBLISHED
    version.published_at = utcnow()
    version.published_by_id = actor.id if actor else None
    session.flush()
    audit.record(session, "questionnaire.publish", actor=actor, actor_label=actor_label,
                 object_type="questionnaire_version", object_id=version.id,
                 details={"number": version.number, "sha256": version.source_sha256})
    return version


def export_xlsform(version: QuestionnaireVersion) -> bytes:
    """The version as an XLSForm workbook (built from the stored definition)."""
    return build_xlsform(version.definition)
