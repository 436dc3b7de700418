"""``/api/v1/graduates``: token scope, rates with suppression, verification and survey estimates."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import func, select

from survey_app.accounts.models import Role
from survey_app.analysis.services import api_tokens
from survey_app.core import db
from survey_app.demo.services import demo
from survey_app.fieldwork.models import SampleUnit
from survey_app.graduates.models import (
    DestinationChange,
    Graduate,
    GraduateDraw,
    GraduateSampleUnit,
)
from survey_app.graduates.services import graduates_register as register
from survey_app.graduates.services import graduates_verification as verification
from survey_app.projects.models import SurveyProject
from survey_app.respond.models import Response

from ..graduates_util import csv_bytes, row


def _token(app, make_user, scopes=("graduates:read",), email=None) -> dict[str, str]:
    owner = make_user(Role.STATISTICIAN, email=email)
    with db.session_factory(app)() as s:
        issued = api_tokens.create_token(s, owner=s.merge(owner), name="graduates", scopes=scopes, all_surveys=True)
        s.commit()
    return {"Authorization": f"Bearer {issued.secret}"}


def test_scope_is_required(app, client, make_user) -> None:
    assert client.get("/api/v1/graduates/cohorts").status_code == 401
    headers = _token(app, make_user, scopes=("surveys:read",))
    response = client.get("/api/v1/graduates/cohorts", headers=headers)
    assert response.status_code == 403 and response.json["error"] == "forbidden"


def test_rates_endpoint_applies_snapshot_rollup_and_suppression(app, client, make_user, session) -> None:
    codes = ["10"] * 10 + ["11"] * 5 + ["12"] * 3 + ["80"] * 6 + ["70"] * 6
    with app.test_request_context():
        register.import_graduates(session, csv_bytes([row(f"G{i:03d}", c) for i, c in enumerate(codes)]), "r.csv", cohort=2026)
        session.commit()
    headers = _token(app, make_user)
    assert client.get("/api/v1/graduates/cohorts", headers=headers).json == [{"cohort": 2026, "graduates": 30}]
    body = client.get("/api/v1/graduates/cohorts/2026/rates?snapshot=september&by=degree", headers=headers).json
    assert body["on"] == "2026-09-01" and body["min_count"] == 5
    rows = {(r["by"]["degree"], r["indicator"]): r for r in body["rows"]}
    assert rows[("*", "placement")]["rate"] == 0.8 and rows[("*", "placement")]["count"] == 24
    assert rows[("bachelor", "other_hiring")]["suppressed"] and rows[("bachelor", "other_hiring")]["count"] is None
    custom = client.get("/api/v1/graduates/cohorts/2026/rates?by=&groups=flexible:12,75,76,77&min_count=2", headers=headers).json
    assert custom["min_count"] == 5  # never below the configured minimum
    assert {r["indicator"] for r in custom["rows"]} == {"placement", "flexible", "not_placed", "unregistered"}
    bad = client.get("/api/v1/graduates/cohorts/2026/rates?by=salary", headers=headers)
    assert bad.status_code == 422 and bad.json["error"] == "validation_failed" and "by" in bad.json["errors"]
    text = json.dumps(body)
    assert "G001" not in text and "张三" not in text


def test_verification_and_survey_estimates_from_the_demo(app, client, make_user, session) -> None:
    with app.app_context():
        summary = demo.load(session)
        session.commit()
        again = demo.load(session)
        session.rollback()
    assert any("graduate register" in c for c in summary.created) and "graduate register 2026" in again.existing
    assert session.scalar(select(func.count()).select_from(Graduate).where(Graduate.cohort == 2026)) >= 400
    assert set(session.scalars(select(Graduate.destination_code).where(Graduate.cohort == 2019).distinct())) >= {"77", "99"}
    assert session.scalar(select(func.count()).select_from(DestinationChange).where(DestinationChange.effective_on == date(2026, 10, 15))) > 0
    assert session.scalar(select(func.count()).where(GraduateSampleUnit.outcome.is_not(None))) > 0
    respondents = session.scalar(select(func.count()).where(GraduateSampleUnit.disposition == "respondent"))
    # the survey sample went through the employment questionnaire: one complete response per respondent
    survey_draw = session.scalar(select(GraduateDraw).where(GraduateDraw.purpose == "survey"))
    link = survey_draw.parameters["fieldwork"]
    assert respondents > 0 and respondents == session.scalar(
        select(func.count()).select_from(Response).join(SampleUnit, SampleUnit.id == Response.sample_unit_id)
        .where(SampleUnit.draw_id == link["sample_draw_id"], Response.status == "complete"))
    dont_know = session.scalars(select(Response).where(Response.sample_unit_id.is_not(None))).all()
    coded = {r.sample_unit_id: r for r in dont_know if r.missing.get("job_match") == "dk"}
    assert all("job_match" not in r.answers for r in coded.values())
    headers = _token(app, make_user)
    draws = client.get("/api/v1/graduates/draws", headers=headers).json
    kinds = {d["purpose"]: d["id"] for d in draws}
    check = client.get(f"/api/v1/graduates/verification/{kinds['verification']}/estimates", headers=headers)
    assert check.status_code == 200
    ranking = check.json["ranking"]
    lows = [r["ci_low"] for r in ranking]
    assert lows == sorted(lows, reverse=True) and [r["rank"] for r in ranking] == list(range(1, len(ranking) + 1))
    overall = [e for e in check.json["estimates"] if e["institution"] == "*" and e["variable"] == "misreport"][0]
    assert overall["ci_low"] <= overall["estimate"] <= overall["ci_high"]
    survey = client.get(f"/api/v1/graduates/surveys/{kinds['survey']}/estimates", headers=headers)
    assert survey.status_code == 200
    assert set(survey.json["estimates"]) == {"overall", "degree", "discipline", "region"}
    assert {r["variable"] for r in survey.json["estimates"]["overall"]} >= {"employed", "salary", "satisfied"}
    assert client.get("/api/v1/graduates/surveys/999/estimates", headers=headers).status_code == 404
    # the same survey through the statistics API's estimates, with the register-calibrated scheme
    stats = _token(app, make_user, scopes=("estimates:read",), email="stats2@example.org")
    scheme_id = link["weighting_scheme_id"]
    survey_id = session.scalar(select(SurveyProject.id).where(SurveyProject.code == "graduate-employment-2026"))
    by_region = client.get(f"/api/v1/surveys/{survey_id}/estimates/?scheme={scheme_id}&variables=salary&by=region", headers=stats)
    assert by_region.status_code == 200, by_region.json
    rows = by_region.json["rows"]
    assert by_region.json["probability_sample"] and len(rows) >= 2
    assert all(r["ci_low"] <= r["estimate"] <= r["ci_high"] for r in rows if r["estimate"] is not None)
    with app.test_request_context():
        draw = verification.get_draw(session, kinds["verification"])
        assert draw.snapshot_on == date(2026, 9, 1)
