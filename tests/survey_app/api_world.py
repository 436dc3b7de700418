"""A small probability survey for the statistics API tests: questionnaire, stratified sample,
invitations, responses, API tokens. Seeded, built straight on the models."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

import numpy as np
from flask import Flask

from survey_app.accounts.models import Role, User
from survey_app.analysis.services import api_tokens
from survey_app.core import db
from survey_app.demo.services.demo_api import synthetic_answers
from survey_app.fieldwork.models import (
    FrameStatus,
    FrameUnit,
    Invitation,
    InvitationKind,
    InvitationStatus,
    SampleDraw,
    SampleUnit,
    SamplingFrame,
)
from survey_app.projects.models import SurveyProject, SurveyStatus
from survey_app.questionnaires.models import Questionnaire, QuestionnaireVersion, VersionStatus
from survey_app.respond.models import Response, ResponseStatus

UNUSABLE_HASH = "!test-user-without-password"
ALL_SCOPES = ("surveys:read", "estimates:read", "microdata:read", "weighting:write")
STRATA = {"c01": (2000, 60), "c02": (3000, 80), "c03": (5000, 100)}  # N_h, n_h


def _labels(zh: str, en: str) -> dict[str, str]:
    return {"zh_CN": zh, "en": en}


def _choice(name: str, zh: str, en: str, missing: bool = False) -> dict[str, Any]:
    return {"name": name, "label": _labels(zh, en), "missing": missing, "columns": {}}


def _question(name: str, qtype: str, zh: str, en: str, lst: str = "", **extra: Any) -> dict[str, Any]:
    q = {"name": name, "type": qtype, "list": lst, "label": _labels(zh, en), "hint": {}, "required": False,
         "required_message": {}, "relevant": "", "constraint": "", "constraint_message": {}, "calculation": "",
         "choice_filter": "", "appearance": "", "min": None, "max": None}
    q.update(extra)
    return q


DEFINITION: dict[str, Any] = {
    "format": 1,
    "settings": {"form_id": "sat", "title": _labels("满意度调查", "Satisfaction survey"), "version": "1",
                 "default_language": "zh_CN", "unique_question": "phone"},
    "languages": ["zh_CN", "en"],
    "choice_lists": {
        "county": [_choice("c01", "东湖县", "Donghu"), _choice("c02", "西山县", "Xishan"), _choice("c03", "南河市", "Nanhe")],
        "sex": [_choice("1", "男", "Male"), _choice("2", "女", "Female")],
        "sat5": [_choice("1", "非常不满意", "Very dissatisfied"), _choice("2", "不满意", "Dissatisfied"),
                 _choice("3", "一般", "Neutral"), _choice("4", "满意", "Satisfied"), _choice("5", "非常满意", "Very satisfied"),
                 _choice("dk", "不了解", "Don't know", missing=True)],
        "relation": [_choice("parent", "家长", "Parent"), _choice("student", "学生", "Student"), _choice("none", "都不是", "None")],
    },
    "pages": [
        {"name": "about", "label": _labels("基本情况", "About you"), "relevant": "", "appearance": "", "generated": False,
         "questions": [
             _question("county", "select_one", "县", "County", "county", required=True),
             _question("sex", "select_one", "性别", "Sex", "sex", required=True),
             _question("full_name", "text", "姓名", "Name"),
             _question("phone", "text", "手机号码", "Mobile phone", required=True),
             _question("income", "decimal", "月收入", "Monthly income"),
             _question("relation", "select_multiple", "与学校的关系", "Relation to schools", "relation"),
         ]},
        {"name": "items", "label": _labels("满意度", "Satisfaction"), "relevant": "", "appearance": "table-list", "generated": False,
         "questions": [
             _question("i01", "select_one", "学位供给", "Kindergarten places", "sat5", required=True),
             _question("i02", "select_one", "校园安全", "Safety at school", "sat5", required=True),
             _question("overall", "select_one", "总体满意度", "Overall satisfaction", "sat5", required=True),
             _question("suggestion", "text", "建议", "Suggestion", relevant="${overall} <= 2", appearance="multiline"),
         ]},
    ],
    "logic": {},
}


@dataclass
class World:
    project_id: int
    other_project_id: int
    draw_id: int
    statistician_id: int
    token: str
    other_token: str
    read_only_token: str
    complete_ids: list[int]


def _project(s: Any, code: str, owner_id: int) -> SurveyProject:
    today = date.today()
    project = SurveyProject(code=code, title=f"满意度 {code}", title_en=f"Satisfaction {code}", form_number="教满调表2号",
                            issuing_authority="示范省教育厅", approval_number="示统备〔2026〕7号",
                            valid_until=today + timedelta(days=200), status=SurveyStatus.ACTIVE,
                            fieldwork_start=today - timedelta(days=10), fieldwork_end=today + timedelta(days=20), owner_id=owner_id)
    s.add(project)
    s.flush()
    return project


def build(app: Flask, *, seed: int = 7, strata: dict[str, tuple[int, int]] | None = None) -> World:
    """Create the survey and return ids and token secrets."""
    rng = np.random.default_rng(seed)
    strata = strata or STRATA
    with db.session_factory(app)() as s:
        # users straight on the model: nobody logs in here, and scrypt hashing would dominate the set-up
        statistician = User(email="stat@example.org", display_name="Stat", password_hash=UNUSABLE_HASH, role=Role.STATISTICIAN)
        designer = User(email="designer@example.org", display_name="Designer", password_hash=UNUSABLE_HASH, role=Role.DESIGNER)
        s.add_all([statistician, designer])
        s.flush()
        project = _project(s, "sat-2026", designer.id)
        other = _project(s, "other-2026", designer.id)
        questionnaire = Questionnaire(project_id=project.id, title="sat")
        s.add(questionnaire)
        s.flush()
        version = QuestionnaireVersion(questionnaire_id=questionnaire.id, number=1, status=VersionStatus.PUBLISHED, definition=DEFINITION)
        s.add(version)
        frame = SamplingFrame(project_id=project.id, name="residents", status=FrameStatus.READY,
                              columns={"unit_id": "id", "stratum": "county", "contact": ["phone", "name"], "attributes": ["county", "sex", "age_group"]})
        s.add(frame)
        s.flush()
        draw = SampleDraw(project_id=project.id, frame_id=frame.id, label="test", method="stratified", seed=seed,
                          sample_size=sum(n for _, n in strata.values()))
        s.add(draw)
        s.flush()
        plan: list[tuple[str, int, str, str]] = []
        for county, (population, n) in strata.items():
            plan += [(county, population, str(rng.choice(["1", "2"])), str(rng.choice(["15_34", "35_65"]))) for _ in range(n)]
        units = [
            FrameUnit(frame_id=frame.id, row_number=i + 1, unit_key=f"u{i + 1:05d}", stratum=county,
                      attributes={"county": county, "sex": sex, "age_group": age},
                      contact={"phone": f"1380000{i + 1:04d}", "name": f"张三{i + 1}"})
            for i, (county, _, sex, age) in enumerate(plan)
        ]
        s.add_all(units)
        s.flush()
        n_h = {county: n for county, (_, n) in strata.items()}
        sample_units = [
            SampleUnit(draw_id=draw.id, frame_unit_id=unit.id, stratum=county, stratum_population=population,
                       inclusion_probability=n_h[county] / population, design_weight=population / n_h[county])
            for unit, (county, population, _, _) in zip(units, plan, strict=True)
        ]
        s.add_all(sample_units)
        s.flush()
        outcomes = rng.random(len(plan))
        statuses = [
            InvitationStatus.SUBMITTED if o < 0.75 else InvitationStatus.STARTED if o < 0.8 else InvitationStatus.REFUSED
            if o < 0.88 else InvitationStatus.NOT_REACHED if o < 0.94 else InvitationStatus.ISSUED
            for o in outcomes
        ]
        invitations = [
            Invitation(project_id=project.id, token=f"tok{i:06d}", kind=InvitationKind.PERSONAL, status=status, sample_unit_id=su.id)
            for i, (su, status) in enumerate(zip(sample_units, statuses, strict=True))
        ]
        s.add_all(invitations)
        s.flush()
        responses = []
        for i, (invitation, (county, _, sex, _)) in enumerate(zip(invitations, plan, strict=True)):
            if invitation.status not in (InvitationStatus.SUBMITTED, InvitationStatus.STARTED):
                continue
            answers, missing = synthetic_answers(DEFINITION, rng)
            answers.update(county=county, sex=sex, full_name=f"张三{i + 1}")
            responses.append(Response(
                project_id=project.id, version_id=version.id, invitation_id=invitation.id,
                sample_unit_id=invitation.sample_unit_id, answers=answers, missing=missing, language="zh_CN",
                status=ResponseStatus.COMPLETE if invitation.status == InvitationStatus.SUBMITTED else ResponseStatus.PARTIAL,
            ))
        s.add_all(responses)
        s.flush()
        complete_ids = [r.id for r in responses if r.status == ResponseStatus.COMPLETE]
        token = api_tokens.create_token(s, owner=statistician, name="all", scopes=ALL_SCOPES, project_ids=[project.id])
        other_token = api_tokens.create_token(s, owner=statistician, name="other", scopes=ALL_SCOPES, project_ids=[other.id])
        read_only = api_tokens.create_token(s, owner=statistician, name="read", scopes=("surveys:read", "estimates:read"), project_ids=[project.id])
        s.commit()
        return World(project.id, other.id, draw.id, statistician.id, token.secret, other_token.secret, read_only.secret, complete_ids)


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


PROBABILITY_SPEC: dict[str, Any] = {
    "responses": "complete",
    "design": {"strata": True, "fpc": True},
    "nonresponse": {"classes": ["stratum"]},
    "rake": {"margins": {"sex": {"1": 4900, "2": 5100}}},
    "trim": {"upper": 400},
}


def spec_with_draw(world: World, **changes: Any) -> dict[str, Any]:
    spec = {k: (dict(v) if isinstance(v, dict) else v) for k, v in PROBABILITY_SPEC.items()}
    spec["design"] = {**spec["design"], "sample_draw_id": world.draw_id}
    spec.update(changes)
    return spec
