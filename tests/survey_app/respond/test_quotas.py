"""Quotas: definitions, the respondent's polite closed page, and race-free counters."""

from __future__ import annotations

import threading
from datetime import date, timedelta

import pandas as pd
import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import ValidationFailed
from survey_app.demo.services import demo_questionnaires
from survey_app.demo.services.demo import DemoSummary
from survey_app.fieldwork.models import InvitationKind
from survey_app.fieldwork.services import invitations
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys
from survey_app.respond.models import QuotaCell, Response, ResponseStatus
from survey_app.respond.services import quotas
from survey_app.satisfaction.services import satisfaction

from .test_respond import SATISFACTION_PAGES, fields, post_page


def _project(session: Session, code: str = demo_questionnaires.SATISFACTION) -> SurveyProject:
    today = date.today()
    return surveys.create_project(session, {
        "code": code, "title": "满意度调查", "title_en": "Satisfaction", "form_number": "表001",
        "issuing_authority": "示范省教育厅", "approval_number": "示统制〔2026〕12号", "valid_until": today + timedelta(days=100),
        "fieldwork_start": today - timedelta(days=1), "fieldwork_end": today + timedelta(days=30), "status": "active",
    }, actor_label="test")


@pytest.fixture
def project_id(app: Flask) -> int:
    with db.session_factory(app)() as session:
        project = _project(session)
        session.commit()
        return project.id


def test_county_quotas_with_area_shares_and_matching(app: Flask, project_id: int, session: Session) -> None:
    project = session.get(SurveyProject, project_id)
    cells = quotas.set_county_quotas(session, project, {"c01": 300, "c02": 401}, area_shares={"urban": 0.6, "rural": 0.4},
                                     actor_label="test")
    session.commit()
    targets = {(c.county, c.area): c.target for c in cells}
    assert targets == {("c01", ""): 300, ("c01", "urban"): 180, ("c01", "rural"): 120,
                       ("c02", ""): 401, ("c02", "urban"): 241, ("c02", "rural"): 160}
    matched = quotas.matching_cells(session, project_id, {"county": "c01", "area": "rural", "sex": "1"})
    assert [(c.county, c.area) for c in matched] == [("c01", ""), ("c01", "rural")]
    assert quotas.matching_cells(session, project_id, {"county": "c09"}) == []
    # Redefining keeps counters and drops cells no longer wanted.
    session.execute(QuotaCell.__table__.update().values(filled=5))
    session.expire_all()
    quotas.set_county_quotas(session, project, {"c01": 300}, actor_label="test")
    session.commit()
    session.expire_all()
    left = session.scalars(select(QuotaCell)).all()
    assert [(c.county, c.area, c.target, c.filled) for c in left] == [("c01", "", 300, 5)]
    with pytest.raises(ValidationFailed):
        quotas.set_county_quotas(session, project, {"c01": 10}, area_shares={"urban": 0.5, "rural": 0.2})


def test_full_cell_closes_the_form_politely_and_rolls_back_other_cells(app: Flask, client: FlaskClient, session: Session) -> None:
    with db.session_factory(app)() as s:
        project = _project(s)
        _project(s, demo_questionnaires.GRADUATE)
        demo_questionnaires.load(s, DemoSummary())
        quotas.set_county_quotas(s, project, {"c01": 5}, area_shares={"urban": 0.8, "rural": 0.2}, actor_label="test")
        s.commit()
        token = invitations.list_for_project(s, project, InvitationKind.OPEN)[0].token
    rural = session.scalars(select(QuotaCell).where(QuotaCell.area == "rural")).one()
    assert rural.target == 1
    pages = [dict(p) for p in SATISFACTION_PAGES]  # county c01, rural
    for answers in pages:
        reply = post_page(client, token, answers)
        assert reply.status_code == 303
    session.expire_all()
    assert {c.area: c.filled for c in session.scalars(select(QuotaCell))} == {"": 1, "urban": 0, "rural": 1}
    second = app.test_client()
    pages[0] = {**pages[0], "phone": "13912345678"}
    replies = [post_page(second, token, answers) for answers in pages]
    closed = replies[-1]
    assert closed.status_code == 403
    assert "enough answers from people like you" in closed.get_data(as_text=True)
    session.expire_all()
    # The county total was not counted either: the whole transaction rolled back.
    assert {c.area: c.filled for c in session.scalars(select(QuotaCell))} == {"": 1, "urban": 0, "rural": 1}
    completes = session.scalar(select(func.count()).select_from(Response).where(Response.status == ResponseStatus.COMPLETE))
    assert completes == 1
    # An urban respondent of the same county still gets in.
    third = app.test_client()
    urban = [{**pages[0], "area": "urban", "phone": "13712345678"}, *pages[1:]]
    assert [post_page(third, token, answers).status_code for answers in urban][-1] == 303
    rows = quotas.fill_table(session, session.get(SurveyProject, rural.project_id))
    assert [(r.area, r.filled, r.target, r.completes) for r in rows] == [("", 2, 5, 2), ("rural", 1, 1, None), ("urban", 1, 4, None)]


@pytest.mark.parametrize("threads", [24])
def test_concurrent_reservations_never_overfill_a_nearly_full_cell(app: Flask, project_id: int, threads: int) -> None:
    """Many submissions at once (each thread its own session and transaction) to a cell with 3 places left."""
    factory = db.session_factory(app)
    with factory() as session:
        project = session.get(SurveyProject, project_id)
        cells = quotas.set_county_quotas(session, project, {"c01": 50}, area_shares={"urban": 0.5, "rural": 0.5},
                                         actor_label="test")
        for cell in cells:
            cell.filled = 47 if cell.area == "" else 22
        session.commit()
        ids = [c.id for c in cells if c.area in ("", "urban")]
    barrier = threading.Barrier(threads)
    outcomes: list[str] = []
    lock = threading.Lock()

    def submit() -> None:
        with factory() as session:
            barrier.wait()
            ok = quotas.reserve_ids(session, ids)
            if ok:
                session.commit()
            else:
                session.rollback()
            with lock:
                outcomes.append("in" if ok else "full")

    workers = [threading.Thread(target=submit) for _ in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert len(outcomes) == threads
    assert outcomes.count("in") == 3 and outcomes.count("full") == threads - 3
    with factory() as session:
        filled = {c.area: c.filled for c in session.scalars(select(QuotaCell))}
    assert filled == {"": 50, "urban": 25, "rural": 22}


def test_quota_page_shows_fill(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    logged_in(Role.ADMIN)
    with db.session_factory(app)() as session:
        quotas.set_county_quotas(session, session.get(SurveyProject, project_id), {"c01": 300, "c02": 400},
                                 area_shares={"urban": 0.6, "rural": 0.4}, actor_label="test")
        session.commit()
    page = client.get(f"/admin/satisfaction/{project_id}/quotas")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "c02" in html and "240" in html and "0 / 400" in html
    reply = client.post(f"/admin/satisfaction/{project_id}/quotas", data={"targets": "c01=300\nc03=400", "urban_share": "0.5"})
    assert reply.status_code == 303
    with db.session_factory(app)() as session:
        assert {(c.county, c.area): c.target for c in session.scalars(select(QuotaCell))}[("c03", "urban")] == 200


def test_concurrent_final_pages_through_the_respondent_form_never_overfill(app: Flask, session: Session) -> None:
    """Respondents submit their last page at the same moment (real submit path, one request session each)."""
    with db.session_factory(app)() as s:
        project = _project(s)
        _project(s, demo_questionnaires.GRADUATE)
        demo_questionnaires.load(s, DemoSummary())
        quotas.set_county_quotas(s, project, {"c01": 4}, actor_label="test")
        s.commit()
        token = invitations.list_for_project(s, project, InvitationKind.OPEN)[0].token
    respondents = 10
    clients, last_pages = [], []
    for r in range(respondents):
        client = app.test_client()
        pages = [{**SATISFACTION_PAGES[0], "phone": f"1381234{r:04d}"}, *SATISFACTION_PAGES[1:]]
        for answers in pages[:-1]:
            assert post_page(client, token, answers).status_code == 303
        page = client.get(f"/r/{token}").get_data(as_text=True)
        last_pages.append({**fields(page), **{f"q-{k}": v for k, v in pages[-1].items()}})
        clients.append(client)
    barrier = threading.Barrier(respondents)
    statuses: list[int] = []
    lock = threading.Lock()

    def finish(client: FlaskClient, data: dict[str, str]) -> None:
        barrier.wait()
        status = client.post(f"/r/{token}", data=data).status_code
        with lock:
            statuses.append(status)

    workers = [threading.Thread(target=finish, args=pair) for pair in zip(clients, last_pages, strict=True)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=60)
    assert sorted(statuses) == [303] * 4 + [403] * (respondents - 4)
    session.expire_all()
    cell = session.scalars(select(QuotaCell)).one()
    completes = session.scalar(select(func.count()).select_from(Response).where(Response.status == ResponseStatus.COMPLETE))
    assert cell.filled == cell.target == completes == 4


def test_quotas_from_the_population_table(client: FlaskClient, app: Flask, project_id: int, logged_in) -> None:  # type: ignore[no-untyped-def]
    population = pd.DataFrame({"county": ["a", "a", "b", "b", "c"], "sex": ["1"] * 5, "age_group": ["x"] * 5,
                               "area": ["urban", "rural", "urban", "rural", "urban"], "count": [300_000, 300_000, 100_000, 300_000, 7]})
    targets, shares = quotas.targets_from_population(population, base=300, large=400, threshold=500_000)
    assert targets == {"a": 400, "b": 300, "c": 300}
    assert shares == {"a": {"rural": 0.5, "urban": 0.5}, "b": {"rural": 0.75, "urban": 0.25}, "c": {"rural": 0.0, "urban": 1.0}}
    logged_in(Role.ADMIN)
    with db.session_factory(app)() as session:
        table = satisfaction.upload_population(session, session.get(SurveyProject, project_id),
                                               population.to_csv(index=False).encode(), "p.csv")
        session.commit()
        table_id = table.id
    reply = client.post(f"/admin/satisfaction/{project_id}/quotas", data={"action": "population", "population_table_id": table_id,
                                                                          "base": "300", "large": "400", "threshold": "500000"})
    assert reply.status_code == 303
    with db.session_factory(app)() as session:
        cells = {(c.county, c.area): c.target for c in session.scalars(select(QuotaCell))}
    assert cells == {("a", ""): 400, ("a", "urban"): 200, ("a", "rural"): 200, ("b", ""): 300, ("b", "urban"): 75,
                     ("b", "rural"): 225, ("c", ""): 300, ("c", "urban"): 300, ("c", "rural"): 0}
    bad = client.post(f"/admin/satisfaction/{project_id}/quotas", data={"action": "population", "population_table_id": table_id,
                                                                        "base": "many"})
    assert bad.status_code == 422
