"""Questionnaire versions and their codebooks for the statistics API (read-only)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_surveys
from survey_app.core.errors import NotFound
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.models import Questionnaire, QuestionnaireVersion
from survey_app.questionnaires.services import codebook
from survey_app.respond.models import Response


def _versions(session: Session, project: SurveyProject) -> list[QuestionnaireVersion]:
    return list(session.scalars(
        select(QuestionnaireVersion).join(Questionnaire)
        .where(Questionnaire.project_id == project.id).order_by(QuestionnaireVersion.number)
    ))


def list_versions(session: Session, token: ApiToken, project: SurveyProject) -> list[dict[str, Any]]:
    api_surveys.record_read(session, token, "questionnaire_versions.list", project=project)
    counts = dict(session.execute(
        select(Response.version_id, func.count()).where(Response.project_id == project.id).group_by(Response.version_id)
    ).all())
    return [
        {"number": v.number, "status": v.status.value, "published_at": v.published_at,
         "languages": list((v.definition or {}).get("languages", [])), "responses": int(counts.get(v.id, 0))}
        for v in _versions(session, project)
    ]


def version_codebook(session: Session, token: ApiToken, project: SurveyProject, number: int) -> dict[str, Any]:
    api_surveys.record_read(session, token, "codebook", project=project, parameters={"version": number})
    for version in _versions(session, project):
        if version.number == number:
            book = codebook.version_codebook(version.definition or {})
            return {"survey_id": project.id, "version": number, "status": version.status.value, **book}
    raise NotFound(f"Survey {project.code!r} has no questionnaire version {number}.")
