"""Demo data for the statistics API: synthetic responses, a weighting scheme and a token.

``strata demo load`` calls :func:`load` once. It fills the public-satisfaction demo survey with
seeded synthetic open-link responses (when it has a published questionnaire and no responses
yet), creates the weighting scheme "county x sex post-stratification" (an online opt-in sample
post-stratified to population counts, DOMAIN.md), computes it, and issues an API token for the
demo statistician. The token is returned once so that the CLI can print it; only its digest is
stored.

:func:`synthetic_answers` makes answers for any questionnaire definition (the tests use it too).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.services import users
from survey_app.analysis.models import WeightingScheme
from survey_app.analysis.services import api_tokens, weighting_schemes
from survey_app.core.models import utcnow
from survey_app.fieldwork.models import Invitation, InvitationKind
from survey_app.projects.models import SurveyProject
from survey_app.questionnaires.models import Questionnaire, QuestionnaireVersion, VersionStatus
from survey_app.respond.models import Response, ResponseStatus

SURVEY = "county-education-satisfaction-2026"


SCHEME = "county x sex post-stratification"


STATISTICIAN = "statistician@strata.example"


RESPONSES = 1500


SEED = 20260901


SUGGESTIONS = ("希望增加课后服务时间", "Please add more school buses", "食堂饭菜可以更好一些", "")


def synthetic_answers(definition: Mapping[str, Any], rng: np.random.Generator) -> tuple[dict[str, Any], dict[str, str]]:
    """One plausible response to ``definition`` (answers, missing reasons); skip logic ignored
    except that optional text questions are often left empty."""
    lists = definition.get("choice_lists", {})
    answers: dict[str, Any] = {}
    missing: dict[str, str] = {}
    unique = definition.get("settings", {}).get("unique_question")
    for page in definition.get("pages", []):
        for q in page.get("questions", []):
            name, qtype = q["name"], q["type"]
            choices = lists.get(q.get("list") or "", [])
            valid = [c["name"] for c in choices if not c.get("missing")]
            missing_codes = [c["name"] for c in choices if c.get("missing")]
            if qtype == "select_one" and valid:
                if missing_codes and rng.random() < 0.06:
                    answers[name], missing[name] = None, missing_codes[0]
                elif all(v.isdigit() for v in valid) and len(valid) >= 3:
                    # rating scales lean to the upper half, as satisfaction items do
                    p = np.linspace(1.0, 2.2, len(valid))
                    answers[name] = str(rng.choice(valid, p=p / p.sum()))
                else:
                    answers[name] = str(rng.choice(valid))
            elif qtype == "select_multiple" and valid:
                chosen = [v for v in valid if rng.random() < 0.3] or [valid[0]]
                answers[name] = chosen
            elif qtype == "integer":
                low, high = q.get("min") or 0, q.get("max") or 100
                answers[name] = int(rng.integers(int(low), int(high) + 1))
            elif qtype == "decimal":
                answers[name] = round(float(rng.lognormal(8.5, 0.5)), 2)
            elif qtype == "text":
                if name == unique or "phone" in name:
                    answers[name] = "1" + str(rng.choice(["3", "5", "8"])) + "".join(map(str, rng.integers(0, 10, 9)))
                else:
                    answers[name] = str(rng.choice(SUGGESTIONS)) or None
            elif qtype == "date":
                answers[name] = f"2026-0{int(rng.integers(1, 10))}-1{int(rng.integers(0, 10))}"
    return answers, missing


@dataclass
class DemoApiSummary:
    token: str | None
    scheme_id: int | None
    responses_added: int


def _open_link(session: Session, project: SurveyProject) -> Invitation | None:
    return session.scalars(
        select(Invitation).where(Invitation.project_id == project.id, Invitation.kind == InvitationKind.OPEN).order_by(Invitation.id).limit(1)
    ).first()


def _population(definition: Mapping[str, Any]) -> list[dict[str, Any]]:
    lists = definition.get("choice_lists", {})
    counties = [c["name"] for c in lists.get("county", [])]
    sexes = [c["name"] for c in lists.get("sex", [])]
    rng = np.random.default_rng(SEED)
    return [
        {"county": county, "sex": sex, "count": int(rng.integers(40_000, 160_000))}
        for county in counties for sex in sexes
    ]


def load(session: Session, summary: Any = None) -> DemoApiSummary:
    """Add the statistics demo (idempotent); returns the new token's secret, if one was issued."""
    project = session.scalars(select(SurveyProject).where(SurveyProject.code == SURVEY)).first()
    version = None
    if project is not None:
        version = session.scalars(
            select(QuestionnaireVersion).join(Questionnaire)
            .where(Questionnaire.project_id == project.id, QuestionnaireVersion.status == VersionStatus.PUBLISHED)
            .order_by(QuestionnaireVersion.number.desc()).limit(1)
        ).first()
    if project is None or version is None:
        return DemoApiSummary(None, None, 0)
    added = 0
    existing = session.scalar(select(func.count()).select_from(Response).where(Response.project_id == project.id)) or 0
    if existing == 0:
        link = _open_link(session, project)
        rng = np.random.default_rng(SEED)
        now = utcnow()
        for _ in range(RESPONSES):
            answers, missing = synthetic_answers(version.definition, rng)
            session.add(Response(
                project_id=project.id, version_id=version.id, invitation_id=link.id if link else None,
                status=ResponseStatus.COMPLETE, answers=answers, missing=missing, language="zh_CN",
                submitted_at=now,
            ))
        added = RESPONSES
        session.flush()
    scheme = session.scalars(select(WeightingScheme).where(WeightingScheme.project_id == project.id, WeightingScheme.name == SCHEME)).first()
    if scheme is None and {"county", "sex"} <= set(version.definition.get("choice_lists", {})):
        scheme = weighting_schemes.create_scheme(
            session, project, name=SCHEME,
            description="Online opt-in sample post-stratified to resident population counts (county x sex); non-probability.",
            spec={"responses": "complete", "design": {"sample_draw_id": None},
                  "poststratify": {"population": _population(version.definition)}},
            actor=None,
        )
        weighting_schemes.compute_version(session, scheme.versions[-1], actor=None)
    token = None
    statistician = users.get_by_email(session, STATISTICIAN)
    if statistician is not None and not api_tokens.list_tokens(session, statistician):
        issued = api_tokens.create_token(
            session, owner=statistician, name="demo token", all_surveys=True,
            scopes=["surveys:read", "estimates:read", "microdata:read", "weighting:write"], actor_label="demo-loader",
        )
        token = issued.secret
    if summary is not None and added:
        summary.created.append(f"{added} demo responses in {SURVEY}")
    return DemoApiSummary(token, scheme.id if scheme is not None else None, added)
