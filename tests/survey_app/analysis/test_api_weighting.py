"""Weighting schemes through the API: create, version, compute, reproduce, refuse infeasible."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from survey_app.accounts.models import AuditEvent
from survey_app.analysis.models import (
    ResponseWeight,
    WeightingScheme,
    WeightingSchemeVersion,
    WeightRun,
)

from ..api_world import bearer, build, spec_with_draw


@pytest.fixture
def world(app):
    return build(app)


def _create(client, world, spec, name="main", token=None):
    return client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": name, "spec": spec}, headers=bearer(token or world.token))


def _compute(client, world, scheme_id, number=1):
    return client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme_id}/versions/{number}/compute", headers=bearer(world.token))


def test_compute_stores_weights_with_diagnostics_and_is_reproducible(client, world, session):
    created = _create(client, world, spec_with_draw(world))
    assert created.status_code == 201, created.json
    scheme_id = created.json["id"]
    assert created.json["versions"][0]["number"] == 1 and created.json["versions"][0]["latest_run"] is None
    first = _compute(client, world, scheme_id)
    assert first.status_code == 201, first.json
    d = first.json["diagnostics"]
    assert first.json["respondents"] == len(world.complete_ids)
    assert d["converged"] is True
    assert d["sum_of_weights"] == pytest.approx(10000.0)  # raked to the margin total
    assert 0 < d["kish_effective_n"] <= len(world.complete_ids)
    assert d["weight_ratio_max_min"] == pytest.approx(d["weight_max"] / d["weight_min"])
    assert [a["kind"] for a in d["adjustments"]] == ["nonresponse", "rake", "trim"]
    stored = session.scalars(select(ResponseWeight.response_id).where(ResponseWeight.run_id == first.json["id"]).order_by(ResponseWeight.response_id)).all()
    assert stored == sorted(world.complete_ids)

    second = _compute(client, world, scheme_id)
    assert second.status_code == 201
    assert second.json["weights_sha256"] == first.json["weights_sha256"]
    assert second.json["data_sha256"] == first.json["data_sha256"]
    assert second.json["diagnostics"]["reproduced"] is True
    assert second.json["diagnostics"]["reproduces_run"] == first.json["id"]
    w1 = dict(session.execute(select(ResponseWeight.response_id, ResponseWeight.weight).where(ResponseWeight.run_id == first.json["id"])).all())
    w2 = dict(session.execute(select(ResponseWeight.response_id, ResponseWeight.weight).where(ResponseWeight.run_id == second.json["id"])).all())
    assert w1 == w2

    detail = client.get(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme_id}", headers=bearer(world.token))
    assert detail.json["versions"][0]["latest_run"]["id"] == second.json["id"]
    listing = client.get(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", headers=bearer(world.token))
    assert [s["name"] for s in listing.json] == ["main"]


def test_versions_poststratification_from_csv_and_replicates(client, world, session):
    scheme_id = _create(client, world, spec_with_draw(world)).json["id"]
    spec = spec_with_draw(world, rake=None, trim=None,
                          poststratify={"population_csv": "\ufeffcounty,sex,count\nc01,1,1000\nc01,2,1000\nc02,1,1400\nc02,2,1600\nc03,1,2500\nc03,2,2500\n"},
                          replicates={"method": "jkn", "seed": 11})
    version = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme_id}/versions", json={"spec": spec}, headers=bearer(world.token))
    assert version.status_code == 201, version.json
    assert version.json["number"] == 2
    assert version.json["spec"]["poststratify"]["population"][0] == {"county": "c01", "sex": "1", "count": "1000"}
    run = _compute(client, world, scheme_id, 2)
    assert run.status_code == 201, run.json
    assert run.json["replicates"] == run.json["diagnostics"]["respondents"]  # JKn: one replicate per PSU
    assert run.json["diagnostics"]["sum_of_weights"] == pytest.approx(10000.0)
    reps = session.scalars(select(ResponseWeight.replicate_weights).where(ResponseWeight.run_id == run.json["id"])).first()
    assert len(reps) == run.json["replicates"]


def test_infeasible_calibration_is_422_with_the_weighting_message_and_nothing_stored(client, world, session):
    spec = spec_with_draw(world, rake=None, trim=None,
                          calibrate={"totals": {"sex": {"1": 9990, "2": 10}}, "method": "logit", "bounds": [0.8, 1.25]})
    scheme_id = _create(client, world, spec).json["id"]
    response = _compute(client, world, scheme_id)
    assert response.status_code == 422
    assert response.json["error"] == "validation_failed"
    assert "did not converge" in response.json["message"] and "bounds may be infeasible" in response.json["message"]
    assert session.scalar(select(func.count()).select_from(WeightRun)) == 0
    assert session.scalar(select(func.count()).select_from(ResponseWeight)) == 0


@pytest.mark.parametrize(
    ("spec_changes", "field"),
    [
        ({"poststratify": {"population": [{"county": "c01", "count": -3}]}}, "poststratify"),
        ({"calibrate": {"totals": {"sex": {"1": 1}}, "method": "logit"}}, "calibrate"),
        ({"calibrate": {"totals": {"sex": {"1": {"deeper": 4900}}}}}, "calibrate"),
        ({"calibrate": {"totals": {"sex": [4900, 5100]}}}, "calibrate"),
        ({"calibrate": {"totals": {"income": "many"}}}, "calibrate"),
        ({"design": {"sample_draw_id": 999}}, "design"),
        ({"rake": {"margins": {"sex": {"1": "many"}}}}, "rake"),
        ({"trim": {}}, "trim"),
    ],
)
def test_invalid_specs_are_422_naming_the_field(client, world, session, spec_changes, field):
    response = _create(client, world, spec_with_draw(world, **spec_changes))
    assert response.status_code == 422, response.json
    assert field in str(response.json["errors"])
    assert session.scalar(select(func.count(WeightingScheme.id))) == 0


@pytest.mark.parametrize("depth", [5000, 100])
def test_deeply_nested_json_is_400_in_the_error_shape_and_stores_nothing(client, world, session, depth):
    scheme_id = _create(client, world, spec_with_draw(world)).json["id"]
    nested = "[" * depth + "]" * depth
    spec = '{"responses": "complete", "calibrate": {"totals": {"age": ' + nested + "}}}"
    urls = {f"/api/v1/surveys/{world.project_id}/weighting-schemes/": '{"name": "deep", "spec": ' + spec + "}",
            f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme_id}/versions": '{"spec": ' + spec + "}"}
    for url, body in urls.items():
        for language, words in (("en", "nested"), ("zh-CN", "嵌套")):
            response = client.post(url, data=body, content_type="application/json", headers={**bearer(world.token), "Accept-Language": language})
            assert response.status_code == 400, (url, response.json)
            assert set(response.json) == {"error", "message", "errors"} and response.json["error"] == "bad_request"
            assert words in response.json["message"] and list(response.json["errors"]) == ["json"]
    assert session.scalar(select(func.count(WeightingScheme.id))) == 1
    assert session.scalar(select(func.count(WeightingSchemeVersion.id))) == 1


def test_unknown_adjustment_variable_is_422(client, world):
    scheme_id = _create(client, world, spec_with_draw(world, rake={"margins": {"shoe_size": {"40": 10000}}}, trim=None)).json["id"]
    response = _compute(client, world, scheme_id)
    assert response.status_code == 422
    assert "shoe_size" in response.json["message"]


def test_write_needs_the_weighting_scope_and_names_are_unique(client, world, session):
    denied = _create(client, world, spec_with_draw(world), token=world.read_only_token)
    assert denied.status_code == 403 and "weighting:write" in denied.json["message"]
    assert _create(client, world, spec_with_draw(world)).status_code == 201
    again = _create(client, world, spec_with_draw(world))
    assert again.status_code == 409
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("weighting_scheme.%"))).all()
    assert actions == ["weighting_scheme.create"]


def test_other_survey_token_cannot_see_schemes(client, world):
    response = client.get(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", headers=bearer(world.other_token))
    assert response.status_code == 403


def test_scheme_on_responses_approved_at_the_final_review_level(client, world, session):
    from survey_app.review.models import ReviewRecord, ReviewStatus

    spec = spec_with_draw(world, responses="approved", rake=None, trim=None)
    scheme_id = _create(client, world, spec).json["id"]
    nothing = _compute(client, world, scheme_id)
    assert nothing.status_code == 422 and "no responses" in nothing.json["message"].lower()
    approved = world.complete_ids[::2]
    for response_id in world.complete_ids:
        status = ReviewStatus.APPROVED if response_id in approved else ReviewStatus.PENDING
        session.add(ReviewRecord(response_id=response_id, project_id=world.project_id, level=3, status=status))
    session.commit()
    run = _compute(client, world, scheme_id)
    assert run.status_code == 201, run.json
    assert run.json["respondents"] == len(approved)
    stored = session.scalars(select(ResponseWeight.response_id).where(ResponseWeight.run_id == run.json["id"]).order_by(ResponseWeight.response_id)).all()
    assert stored == sorted(approved)
