"""Demo data for `make run`: users for every role and example survey projects.

Idempotent: running it again adds what is missing and changes nothing that exists.
The demo passwords are public (printed by ``strata demo load`` and the README); never load
the demo into a production database.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import users
from survey_app.core.errors import NotFound
from survey_app.demo.services import (
    demo_api,
    demo_fieldwork,
    demo_graduates,
    demo_questionnaires,
    demo_satisfaction,
)
from survey_app.projects.models import SurveyStatus
from survey_app.projects.services import surveys

DEMO_ACTOR = "demo-loader"


DEMO_USERS: tuple[tuple[Role, str, str, str], ...] = (
    (Role.ADMIN, "admin@strata.example", "strata-admin-demo", "管理员 Admin"),
    (Role.DESIGNER, "designer@strata.example", "strata-designer-demo", "调查设计 Designer"),
    (Role.REVIEWER, "reviewer@strata.example", "strata-reviewer-demo", "审核员 Reviewer"),
    (Role.STATISTICIAN, "statistician@strata.example", "strata-statistician-demo", "统计师 Statistician"),
)


@dataclass
class DemoSummary:
    created: list[str] = field(default_factory=list)
    existing: list[str] = field(default_factory=list)


def _designer(session: Session) -> User:
    user = users.get_by_email(session, "designer@strata.example")
    if user is None:  # pragma: no cover - created just before
        raise RuntimeError("demo designer missing")
    return user


def _load_users(session: Session, summary: DemoSummary) -> None:
    for role, email, password, name in DEMO_USERS:
        if users.get_by_email(session, email) is None:
            users.create_user(session, email=email, password=password, role=role, display_name=name, actor_label=DEMO_ACTOR)
            summary.created.append(f"user {email}")
        else:
            summary.existing.append(f"user {email}")


def _load_projects(session: Session, summary: DemoSummary, today: date) -> None:
    owner = _designer(session)
    projects = [
        {
            "code": "graduate-employment-2026",
            "title": "2026届高校毕业生就业状况抽样调查",
            "title_en": "2026 graduate employment sample survey",
            "description": "毕业去向核查与就业质量抽样调查（演示数据）",
            "form_number": "教就调表1号",
            "issuing_authority": "示范省教育厅",
            "approval_number": "示统制〔2026〕12号",
            "valid_until": today + timedelta(days=365),
            "target_population": "2026届全省普通高校毕业生",
            "fieldwork_start": today - timedelta(days=14),
            "fieldwork_end": today + timedelta(days=60),
            "status": SurveyStatus.ACTIVE.value,
        },
        {
            "code": "county-education-satisfaction-2026",
            "title": "2026年县域教育工作群众满意度调查",
            "title_en": "2026 public satisfaction with county education work",
            "description": "16项指标，第三方评估（演示数据）",
            "form_number": "教满调表2号",
            "issuing_authority": "示范省教育督导委员会办公室",
            "approval_number": "示统备〔2026〕7号",
            "valid_until": today + timedelta(days=200),
            "target_population": "15-65岁常住居民",
            "fieldwork_start": today - timedelta(days=7),
            "fieldwork_end": today + timedelta(days=45),
            "status": SurveyStatus.ACTIVE.value,
        },
    ]
    for data in projects:
        try:
            surveys.get_project_by_code(session, str(data["code"]))
            summary.existing.append(f"survey {data['code']}")
        except NotFound:
            surveys.create_project(session, data, actor=owner, actor_label=DEMO_ACTOR)
            summary.created.append(f"survey {data['code']}")


def load(session: Session, *, today: date | None = None) -> DemoSummary:
    """Add the demo data that is missing; the caller commits."""
    summary = DemoSummary()
    today = today or date.today()
    _load_users(session, summary)
    session.flush()
    _load_projects(session, summary, today)
    session.flush()
    demo_questionnaires.load(session, summary)
    demo_satisfaction.load(session, summary)
    demo_graduates.load(session, summary)
    demo_fieldwork.load(session, summary)
    summary.api_token = demo_api.load(session, summary).token  # type: ignore[attr-defined]
    return summary
