"""Fieldwork monitoring: outcomes by stratum, progress, completion time, quality flags, charts."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.fieldwork.models import Invitation, InvitationStatus, SampleUnit
from survey_app.fieldwork.services import invitations_export
from survey_app.workspace.services import monitoring

from ..admin_world import World, add_response, build_world, publish_questionnaire


@pytest.fixture
def world(app: Flask) -> World:
    return build_world(app)


def _fieldwork(session: Session, world: World) -> list[SampleUnit]:
    project, draw = session.merge(world.project), session.merge(world.draw)
    invitations_export.issue(session, draw, actor=session.merge(world.users["owner"]))
    version = publish_questionnaire(session, project)
    units = session.scalars(select(SampleUnit).where(SampleUnit.draw_id == draw.id).order_by(SampleUnit.stratum, SampleUnit.id)).all()
    school0 = [u for u in units if u.stratum == "school-0"]
    school1 = [u for u in units if u.stratum == "school-1"]
    today = date.today()
    for i, unit in enumerate(school0[:6]):  # 6 of 10 complete in school-0, over two days
        add_response(session, project, version, unit, seconds=300 + 10 * i, day=today - timedelta(days=1 if i < 2 else 0))
    add_response(session, project, version, school0[6], complete=False)
    straight = {f"i{k:02d}": "5" for k in range(1, 17)} | {"county": "c2"}
    add_response(session, project, version, school1[0], answers=straight, seconds=60)  # a speeder and a straight-liner
    add_response(session, project, version, school1[1], answers={"county": "c9", "sex": "1", "age_group": "2", "area": "1"}, seconds=400)
    add_response(session, project, version, school1[2], answers={"county": "c9", "sex": "1", "age_group": "2", "area": "1"}, seconds=410)
    by_unit = {i.sample_unit_id: i for i in session.scalars(select(Invitation))}
    by_unit[school1[3].id].status = InvitationStatus.REFUSED
    by_unit[school1[4].id].status = InvitationStatus.NOT_REACHED
    session.commit()
    return list(units)


def test_outcomes_rates_and_flags(app: Flask, world: World, session: Session) -> None:
    _fieldwork(session, world)
    project = session.merge(world.project)
    table = monitoring.outcomes_by_stratum(session, project).set_index("stratum")
    assert table.loc["school-0", ["sampled", "completed", "partial", "not_started"]].tolist() == [10, 6, 1, 3]
    assert table.loc["school-1", ["completed", "refused", "not_reached", "not_started"]].tolist() == [3, 1, 1, 5]
    assert table.loc["school-0", "response_rate"] == pytest.approx(0.6)
    data = monitoring.summary(session, project)
    assert (data["sampled"], data["completed"]) == (30, 9) and data["response_rate"] == pytest.approx(0.3)
    assert data["daily"]["completed"].tolist() == [2, 7] and data["daily"]["cumulative"].tolist() == [2, 9]
    quality = data["quality"]
    assert quality.median_seconds == pytest.approx(330.0)
    assert quality.count("speeder") == 1 and quality.count("straightlining") == 1 and quality.count("duplicate") == 2
    assert any(set(reasons) == {"speeder", "straightlining"} for reasons in quality.flags.values())


def test_monitoring_page_and_charts(app: Flask, world: World, session: Session) -> None:
    _fieldwork(session, world)
    for role in ("owner", "statistician"):
        client = world.client_for(app, role)
        page = client.get(f"/admin/projects/{world.project.id}/monitoring").get_data(as_text=True)
        assert "30.0%" in page and "60.0%" in page and "5.5 minutes" in page and "Straight-lining" in page
        chart = client.get(f"/admin/projects/{world.project.id}/monitoring/outcomes.svg")
        assert chart.mimetype == "image/svg+xml" and b"<svg" in chart.data and b"school-1" in chart.data
        progress = client.get(f"/admin/projects/{world.project.id}/monitoring/progress.svg")
        assert progress.status_code == 200 and b"<svg" in progress.data
        assert client.get(f"/admin/projects/{world.project.id}/monitoring/pie.svg").status_code == 404


def test_outcomes_chart_shows_strata_that_look_like_math_text(app: Flask, world: World, session: Session) -> None:
    strata = ["$\\frac$", "$$", "cost $5 to $10"]
    for i, unit in enumerate(session.scalars(select(SampleUnit).where(SampleUnit.draw_id == world.draw.id).order_by(SampleUnit.id))):
        unit.stratum = strata[i % len(strata)]
    session.commit()
    chart = world.client_for(app, "owner").get(f"/admin/projects/{world.project.id}/monitoring/outcomes.svg")
    assert chart.status_code == 200 and chart.mimetype == "image/svg+xml"
    text = chart.get_data(as_text=True)
    assert all(stratum in text for stratum in strata)  # drawn as the text it is


def test_empty_project_monitoring(app: Flask, world: World, session: Session) -> None:
    client = world.client_for(app, "owner")
    page = client.get(f"/admin/projects/{world.project.id}/monitoring").get_data(as_text=True)
    assert "0.0%" in page  # sampled, nothing issued or answered yet
    assert client.get(f"/admin/projects/{world.project.id}/monitoring/progress.svg").status_code == 200
