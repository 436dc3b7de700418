"""Survey look-ups for the statistics API: the projects a token may read, their fieldwork state,
and the audit record every API read leaves."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from survey_app.accounts.services import audit
from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_tokens
from survey_app.projects.models import SurveyProject


@dataclass(frozen=True)
class SurveyView:
    """A survey project as the API shows it."""

    project: SurveyProject
    today: date

    @property
    def statutory_labels(self) -> dict[str, Any]:
        p = self.project
        return {
            "form_number": p.form_number,
            "issuing_authority": p.issuing_authority,
            "approval_number": p.approval_number,
            "valid_until": p.valid_until,
        }

    @property
    def fieldwork(self) -> dict[str, Any]:
        p = self.project
        return {
            "status": p.status.value,
            "start": p.fieldwork_start,
            "end": p.fieldwork_end,
            "approval_valid": p.is_valid_on(self.today),
            "accepting_responses": p.accepts_responses_on(self.today),
        }

    def __getattr__(self, name: str) -> Any:
        return getattr(self.project, name)


def record_read(
    session: Session,
    token: ApiToken,
    endpoint: str,
    *,
    project: SurveyProject | None = None,
    parameters: Mapping[str, Any] | None = None,
) -> None:
    """Write an API read to the audit log: who (the token's owner), which survey, endpoint, parameters."""
    audit.record(
        session,
        "api.read",
        actor=token.user,
        object_type="survey_project" if project is not None else "api",
        object_id=project.id if project is not None else "",
        details={
            "endpoint": endpoint,
            "token_id": token.id,
            "token_prefix": token.prefix,
            "survey": project.code if project is not None else None,
            "parameters": dict(parameters or {}),
        },
    )


def list_surveys(session: Session, token: ApiToken, *, today: date | None = None) -> list[SurveyView]:
    projects = api_tokens.allowed_projects(session, token)
    record_read(session, token, "surveys.list")
    day = today or date.today()
    return [SurveyView(p, day) for p in projects]


def survey_detail(session: Session, token: ApiToken, project: SurveyProject, *, today: date | None = None) -> SurveyView:
    api_tokens.require_project(token, project)
    record_read(session, token, "surveys.detail", project=project)
    return SurveyView(project, today or date.today())
