"""Sample design: calculator, allocation preview, draws with manifests, no silent redraws."""

from __future__ import annotations

from typing import Any

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import sampling
from survey_app.accounts.models import AuditEvent, Role
from survey_app.fieldwork.models import SampleDraw, SampleUnit, SamplingFrame
from survey_app.fieldwork.services import frames
from survey_app.projects.services import project_admin

from ..admin_world import make_frame, project_data

DESIGN = {"stratified": "true", "allocation": "proportional", "method": "srswor", "min_n": "0", "power": "0.5"}


@pytest.fixture
def frame(app: Flask, client: FlaskClient, logged_in: Any, session: Session) -> SamplingFrame:
    designer = session.merge(logged_in(Role.DESIGNER))
    project = project_admin.create(session, project_data(), actor=designer)
    session.commit()
    return make_frame(app, session, project, designer)


def test_calculator_and_allocation_preview(client: FlaskClient, frame: SamplingFrame) -> None:
    response = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "calculate", "margin": "0.1", "level": "0.95", "p": "0.5", "deff": "1.5", "response_rate": "0.5"})
    assert response.status_code == 200
    expected = sampling.sample_size(0.1, level=0.95, p=0.5, deff=1.5, response_rate=0.5, population=300)
    page = response.get_data(as_text=True)
    assert f"issue {expected} invitations" in page and f'value="{expected}"' in page
    preview = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "preview", "sample_size": "30"})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "school-0" in page and ">10<" in page and "0.1000" in page


@pytest.mark.parametrize(
    ("changes", "field", "text"),
    [
        ({"sample_size": "301"}, "sample_size", "exceeds"),
        ({"sample_size": "0"}, "sample_size", "greater than or equal to 1"),
        ({"sample_size": "30", "min_n": "20"}, "sample_size", "min"),
        ({"sample_size": "30", "allocation": "magic"}, "allocation", "Must be one of"),
        ({"sample_size": "30", "seed": "-3"}, "seed", "greater than or equal to 0"),
    ],
)
def test_infeasible_or_invalid_designs_are_explained(client: FlaskClient, frame: SamplingFrame, session: Session, changes: dict[str, str], field: str, text: str) -> None:
    response = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "draw", **changes})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert field in page and text in page
    assert session.scalar(select(func.count(SampleDraw.id))) == 0


def test_calculator_rejects_bad_inputs(client: FlaskClient, frame: SamplingFrame) -> None:
    response = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "calculate", "margin": "1.5", "response_rate": "0"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "margin" in page and "response_rate" in page


def test_draw_keeps_the_manifest_and_is_reproducible(client: FlaskClient, frame: SamplingFrame, session: Session) -> None:
    response = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "draw", "sample_size": "30", "seed": "2026", "label": "Main sample"})
    assert response.status_code == 302
    record = session.scalars(select(SampleDraw)).one()
    assert record.seed == 2026 and record.sample_size == 30 and record.label == "Main sample"
    manifest = record.manifest
    assert manifest["seed"] == 2026 and manifest["method"] == "srswor" and manifest["input_hashes"]["frame"].startswith("sha256:")
    assert manifest["algorithm"] == sampling.ALGORITHM_VERSION and "library_version" in manifest
    assert [row["n"] for row in record.allocation["strata"]] == [10, 10, 10]
    units = session.scalars(select(SampleUnit).where(SampleUnit.draw_id == record.id)).all()
    assert len(units) == 30 and {u.design_weight for u in units} == {10.0} and {u.stratum_population for u in units} == {100}
    # replay from the frozen frame with the manifest's seed gives the same units
    table = frames.units_frame(session, frame)
    replay = sampling.draw_sample(table[["unit_key", "stratum", "size"]], 30, strata="stratum", rng=manifest["seed"])
    assert replay.manifest.input_hashes["frame"] == manifest["input_hashes"]["frame"]
    assert sorted(table.loc[replay.units.index, "frame_unit_id"]) == sorted(u.frame_unit_id for u in units)
    page = client.get(response.headers["Location"]).get_data(as_text=True)
    assert "2026" in page and manifest["input_hashes"]["frame"] in page
    download = client.get(f"/admin/draws/{record.id}/manifest.json")
    assert download.get_json()["manifest"]["seed"] == 2026 and "attachment" in download.headers["Content-Disposition"]
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "sample.draw")).one()
    assert event.after["seed"] == 2026 and event.details["frame_hash"] == manifest["input_hashes"]["frame"]


def test_a_second_draw_needs_confirmation_and_is_a_new_sample(client: FlaskClient, frame: SamplingFrame, session: Session) -> None:
    first = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "draw", "sample_size": "30"})
    assert first.status_code == 302
    again = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "draw", "sample_size": "30"})
    assert again.status_code == 409 and "already has 1 draw" in again.get_data(as_text=True)
    assert session.scalar(select(func.count(SampleDraw.id))) == 1
    confirmed = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "action": "draw", "sample_size": "12", "confirm_new": "true"})
    assert confirmed.status_code == 302
    draws = session.scalars(select(SampleDraw).order_by(SampleDraw.id)).all()
    assert [d.sample_size for d in draws] == [30, 12]
    assert session.scalar(select(func.count(SampleUnit.id))) == 42
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "sample.draw")) == 2


def test_pps_and_unstratified_designs(client: FlaskClient, frame: SamplingFrame, session: Session) -> None:
    response = client.post(f"/admin/frames/{frame.id}/design", data={**DESIGN, "stratified": "false", "method": "pps_systematic", "action": "draw", "sample_size": "20", "seed": "5"})
    assert response.status_code == 302
    units = session.scalars(select(SampleUnit)).all()
    weights = pd.Series([u.design_weight for u in units])
    assert len(units) == 20 and weights.nunique() > 1 and {u.stratum_population for u in units} == {300}


def test_frame_without_strata_cannot_be_stratified(app: Flask, client: FlaskClient, frame: SamplingFrame, session: Session) -> None:
    plain = make_frame(app, session, frame.project, frame.project.owner, stratum="", size="")  # type: ignore[arg-type]
    response = client.post(f"/admin/frames/{plain.id}/design", data={**DESIGN, "action": "preview", "sample_size": "10"})
    assert response.status_code == 422 and "no stratum column" in response.get_data(as_text=True)
    pps = client.post(f"/admin/frames/{plain.id}/design", data={**DESIGN, "stratified": "false", "method": "pps_systematic", "action": "preview", "sample_size": "10"})
    assert pps.status_code == 422 and "size column" in pps.get_data(as_text=True)


def test_cross_classified_strata_from_attribute_columns(app: Flask, client: FlaskClient, frame: SamplingFrame, session: Session) -> None:
    lines = ["unit_id,school,degree,size,phone"] + [f"x{i:04d},school-{i % 2},{'master' if i % 3 == 0 else 'bachelor'},1,1" for i in range(120)]
    crossed = make_frame(app, session, frame.project, frame.project.owner, ("\n".join(lines) + "\n").encode(), attributes=["degree"])  # type: ignore[arg-type]
    url = f"/admin/frames/{crossed.id}/design"
    page = client.get(url).get_data(as_text=True)
    assert 'value="degree"' in page and 'value="school" checked' in page
    preview = client.post(url, data={**DESIGN, "strata_form": "1", "strata": ["school", "degree"], "action": "preview", "sample_size": "24"})
    text = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "school-0 | bachelor" in text and "school-1 | master" in text
    drawn = client.post(url, data={**DESIGN, "strata_form": "1", "strata": ["school", "degree"], "action": "draw", "sample_size": "24", "seed": "3"})
    assert drawn.status_code == 302
    record = session.scalars(select(SampleDraw).where(SampleDraw.frame_id == crossed.id)).one()
    assert record.allocation["columns"] == ["school", "degree"] and len(record.allocation["strata"]) == 4
    strata = set(session.scalars(select(SampleUnit.stratum).where(SampleUnit.draw_id == record.id)))
    assert strata == {"school-0 | bachelor", "school-0 | master", "school-1 | bachelor", "school-1 | master"}
    unknown = client.post(url, data={**DESIGN, "strata_form": "1", "strata": ["phone"], "action": "preview", "sample_size": "10"})
    assert unknown.status_code == 422 and "&#39;phone&#39; is not one of" in unknown.get_data(as_text=True)
    none = client.post(url, data={**DESIGN, "strata_form": "1", "action": "preview", "sample_size": "10"})
    assert none.status_code == 200 and "(all units)" in none.get_data(as_text=True)
