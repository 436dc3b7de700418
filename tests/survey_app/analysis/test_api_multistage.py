"""Multi-stage weighting schemes through the API: a two-stage draw (schools, then residents) with a
certainty first stage gives the estimates and standard errors of `weighting.Design(psu=[school,
unit], fpc=[N1, N2])` called directly (R's svydesign(id=~school+unit, fpc=~N1+N2))."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sqlalchemy import select

import weighting
from survey_app.core import db
from survey_app.fieldwork.models import FrameUnit, SampleUnit
from survey_app.respond.models import Response, ResponseStatus

from ..api_world import bearer, build

MARGINS = {"sex": {"1": 4900.0, "2": 5100.0}}
#: county -> (schools in the county N1, schools sampled n1); 20 sampled residents per school.
SCHOOLS = {"c01": (3, 3), "c02": (10, 4), "c03": (12, 5)}  # c01: every school (certainty stage)
STAGES = [{"psu": "school", "population": "stage1_population"}, {"psu": None, "population": "stage2_population"}]


def _two_stage(app, world) -> None:
    """Turn the world's draw into a two-stage sample: schools within counties, 20 residents per school."""
    with db.session_factory(app)() as s:
        rows = s.execute(select(SampleUnit, FrameUnit).join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
                         .where(SampleUnit.draw_id == world.draw_id).order_by(SampleUnit.id)).all()
        seen: dict[str, int] = {}
        for unit, frame_unit in rows:
            county = unit.stratum
            k = seen.get(county, 0)
            seen[county] = k + 1
            school = k // 20
            n_schools, sampled = SCHOOLS[county]
            residents = 40 + 15 * school + 7 * sampled  # residents in the school (stage-2 population)
            pi1, pi2 = sampled / n_schools, 20 / residents
            frame_unit.attributes = {**frame_unit.attributes, "school": f"{county}-{school}"}
            unit.stage = {"stage1_inclusion_probability": pi1, "stage1_population": float(n_schools),
                          "stage2_inclusion_probability": pi2, "stage2_population": float(residents)}
            unit.stratum_population = n_schools
            unit.inclusion_probability = pi1 * pi2
            unit.design_weight = 1 / (pi1 * pi2)
        assert {c: seen[c] // 20 for c in seen} == {c: n for c, (_, n) in SCHOOLS.items()}
        s.commit()


def _direct(session, world, *, stages: bool = True) -> weighting.Design:
    rows = session.execute(
        select(SampleUnit.id, SampleUnit.stratum, SampleUnit.design_weight, SampleUnit.stage, FrameUnit.attributes, Response.answers)
        .join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
        .join(Response, Response.sample_unit_id == SampleUnit.id)
        .where(SampleUnit.draw_id == world.draw_id, Response.status == ResponseStatus.COMPLETE)
        .order_by(Response.id)
    ).all()
    data = pd.DataFrame({
        "unit": [r[0] for r in rows], "stratum": [r[1] for r in rows], "w": [r[2] for r in rows],
        "N1": [r[3]["stage1_population"] for r in rows], "N2": [r[3]["stage2_population"] for r in rows],
        "school": [r[4]["school"] for r in rows], "county": [r[4]["county"] for r in rows], "sex": [r[4]["sex"] for r in rows],
        "i01": [float(r[5]["i01"]) if r[5].get("i01") is not None else np.nan for r in rows],
        "overall": [float(r[5]["overall"]) if r[5].get("overall") is not None else np.nan for r in rows],
    })
    if not stages:  # the first stage only (single-stage scheme with psu "school")
        return weighting.Design(data, weights="w", strata="stratum", psu="school", fpc="N1").rake(MARGINS)
    return weighting.Design(data, weights="w", strata="stratum", psu=["school", "unit"], fpc=["N1", "N2"]).rake(MARGINS)


def _scheme(client, world, design: dict, name: str) -> int:
    spec = {"responses": "complete", "design": {"sample_draw_id": world.draw_id, **design}, "rake": {"margins": MARGINS}}
    created = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": name, "spec": spec}, headers=bearer(world.token))
    assert created.status_code == 201, created.json
    run = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{created.json['id']}/versions/1/compute", headers=bearer(world.token))
    assert run.status_code == 201, run.json
    return created.json["id"]


def _rows(client, world, scheme_id, **params) -> pd.DataFrame:
    query = "&".join(f"{k}={v}" for k, v in {"scheme": scheme_id, **params}.items())
    got = client.get(f"/api/v1/surveys/{world.project_id}/estimates/?{query}", headers=bearer(world.token))
    assert got.status_code == 200, got.json
    return pd.DataFrame([{**r["by"], **r} for r in got.json["rows"]])


def test_two_stage_scheme_equals_weighting_with_both_stages(app, client, session):
    world = build(app)
    _two_stage(app, world)
    scheme_id = _scheme(client, world, {"stages": STAGES}, "two-stage")
    spec = client.get(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme_id}", headers=bearer(world.token)).json
    assert spec["versions"][0]["spec"]["design"]["stages"] == STAGES
    design = _direct(session, world)
    assert design.df == 12 - 3  # 12 schools, 3 strata

    for statistic, by in (("mean", "county"), ("total", None)):
        expected = design.mean(["i01", "overall"], by=by) if statistic == "mean" else design.total(["i01", "overall"])
        got = _rows(client, world, scheme_id, variables="i01,overall", statistic=statistic, **({"by": by} if by else {}))
        keys = ["county", "variable"] if by else ["variable"]
        merged = expected.merge(got, on=keys, suffixes=("_w", "_api"))
        assert len(merged) == len(expected) > 0
        for column in ("estimate", "se", "ci_low", "ci_high", "df", "deff", "cv"):
            assert np.allclose(merged[f"{column}_w"], merged[f"{column}_api"], rtol=1e-9, atol=0), (statistic, column)

    # a single-stage scheme (psu "school", FPC = schools in the county) is unchanged: it is the
    # first stage only, so the certainty county loses its second-stage variance
    one_stage = _scheme(client, world, {"psu": "school"}, "first stage only")
    single = _rows(client, world, one_stage, variables="i01", by="county").set_index("county")["se"]
    first_only = _direct(session, world, stages=False).mean("i01", by="county").set_index("county")["se"]
    both = design.mean("i01", by="county").set_index("county")["se"]
    assert np.allclose(single.loc[first_only.index], first_only, rtol=1e-9, atol=0)
    assert single["c01"] < 0.5 * both["c01"]


def test_multi_stage_spec_is_validated(app, client):
    world = build(app)
    url = f"/api/v1/surveys/{world.project_id}/weighting-schemes/"

    def create(design, name):
        spec = {"design": {"sample_draw_id": world.draw_id, **design}}
        return client.post(url, json={"name": name, "spec": spec}, headers=bearer(world.token))

    both = create({"psu": "school", "stages": STAGES}, "a")
    assert both.status_code == 422 and "psu" in both.json["errors"]["json"]["spec"]["design"]
    inner_null = create({"stages": [{"psu": None, "population": "stage1_population"}, STAGES[0]]}, "b")
    assert inner_null.status_code == 422 and "stages" in inner_null.json["errors"]["json"]["spec"]["design"]
    no_draw = client.post(url, json={"name": "c", "spec": {"design": {"sample_draw_id": None, "stages": STAGES}}}, headers=bearer(world.token))
    assert no_draw.status_code == 422 and "sample_draw_id" in str(no_draw.json["errors"])
    # the world's draw is single-stage: no per-stage populations to read
    scheme = create({"stages": [{"psu": "age_group", "population": "stage1_population"}, STAGES[1]]}, "d")
    assert scheme.status_code == 201, scheme.json
    run = client.post(f"{url}{scheme.json['id']}/versions/1/compute", headers=bearer(world.token))
    assert run.status_code == 422 and "stage1_population" in run.json["message"]


def test_openapi_describes_the_stages(client):
    schemas = client.get("/api/v1/openapi.json").json["components"]["schemas"]
    assert schemas["DesignSpec"]["properties"]["stages"]["items"] == {"$ref": "#/components/schemas/StageSpec"}
    assert set(schemas["StageSpec"]["properties"]) == {"psu", "population"}
    assert schemas["StageSpec"]["required"] == ["population"]
