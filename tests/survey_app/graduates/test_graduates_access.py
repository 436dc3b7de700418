"""Who sees and changes which graduate data (issue #20): draws belong to the survey project they were
made for, identities are revealed only on a reasoned POST for a graduate of one's own project, and
API tokens read only the draws of their surveys (the register itself needs a token for all surveys)."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, Role, User
from survey_app.analysis.models import WeightingScheme
from survey_app.analysis.services import api_tokens
from survey_app.core import db
from survey_app.graduates.models import GraduateSampleUnit
from survey_app.projects.services import project_admin

from ..admin_world import project_data
from ..conftest import login
from ..graduates_util import csv_bytes, row

CODES = ["10"] * 12 + ["11"] * 6 + ["12"] * 6 + ["80"] * 6 + ["70"] * 6
PEOPLE = {"admin": Role.ADMIN, "owner": Role.DESIGNER, "granted": Role.DESIGNER, "other": Role.DESIGNER, "nobody": Role.DESIGNER,
          "statistician": Role.STATISTICIAN}


@dataclass
class Register:
    clients: dict[str, FlaskClient]
    project_id: int
    other_project_id: int
    verification_id: int
    survey_id: int
    graduate_id: int  # sampled in both draws of the project
    unit_id: int  # that graduate in the verification sample


def _location_id(response: Any, kind: str) -> int:
    assert response.status_code == 302, response.get_data(as_text=True)
    return int(re.search(rf"/{kind}/(\d+)", response.headers["Location"]).group(1))  # type: ignore[union-attr]


@pytest.fixture
def register(app: Flask, make_user: Any, session: Session) -> Register:
    users = {key: make_user(role, f"{key}@example.org") for key, role in PEOPLE.items()}
    project = project_admin.create(session, project_data("grad-2026"), actor=session.merge(users["owner"]))
    project_admin.grant(session, project, users["granted"].id, actor=session.merge(users["owner"]))
    other = project_admin.create(session, project_data("other-2026"), actor=session.merge(users["other"]))
    session.commit()
    clients = {}
    for key, user in users.items():
        clients[key] = app.test_client()
        login(clients[key], user.email)
    rows = [row(f"A{i:03d}", c) for i, c in enumerate(CODES)]
    rows += [row(f"B{i:03d}", c, institution_code="10002", institution_name="示范学院") for i, c in enumerate(CODES)]
    owner = clients["owner"]
    imported = owner.post("/admin/graduates/import", data={"cohort": "2026", "file": (io.BytesIO(csv_bytes(rows)), "r.csv")},
                          content_type="multipart/form-data")
    assert imported.status_code == 302
    verification_id = _location_id(owner.post("/admin/graduates/verification", data={
        "cohort": "2026", "mode": "size", "per_institution": "36", "seed": "7", "project_id": str(project.id)}), "verification")
    survey_id = _location_id(owner.post("/admin/graduates/survey", data={
        "cohort": "2026", "seed": "3", "graduates_per_institution": "10", "project_id": str(project.id)}), "survey")
    started = owner.post(f"/admin/graduates/survey/{survey_id}/fieldwork", data={"project_id": str(project.id)})
    assert started.status_code == 302
    unit = session.scalars(select(GraduateSampleUnit).where(GraduateSampleUnit.draw_id == survey_id)).first()
    assert unit is not None
    unit_id = session.scalar(select(GraduateSampleUnit.id).where(GraduateSampleUnit.draw_id == verification_id,
                                                                  GraduateSampleUnit.graduate_id == unit.graduate_id))
    assert unit_id is not None
    return Register(clients, project.id, other.id, verification_id, survey_id, unit.graduate_id, unit_id)


def _phone(page: str) -> bool:
    return "13800138000" in page


def test_fieldwork_actions_check_the_draws_project(register: Register, session: Session) -> None:
    """A designer of another project could add a weighting scheme version and run a collection."""
    url = f"/admin/graduates/survey/{register.survey_id}/fieldwork"
    before = session.scalar(select(func.count()).select_from(AuditEvent))
    for who in ("other", "nobody", "statistician"):
        for action in ("collect", "scheme", "publish"):
            response = register.clients[who].post(url, data={"action": action, "project_id": str(register.other_project_id)})
            assert response.status_code == 403, (who, action, response.status_code)
    assert session.scalar(select(func.count()).select_from(AuditEvent)) == before  # nothing written, nothing audited
    assert session.scalar(select(func.count()).select_from(WeightingScheme)) == 0
    collected = register.clients["granted"].post(url, data={"action": "collect"}, follow_redirects=True)
    assert "Read 0 complete questionnaire responses." in collected.get_data(as_text=True)


def test_draw_pages_belong_to_the_draws_project(register: Register) -> None:
    draw_pages = [f"/admin/graduates/verification/{register.verification_id}", f"/admin/graduates/survey/{register.survey_id}",
                  f"/admin/graduates/draws/{register.verification_id}/manifest.json", f"/admin/graduates/units/{register.unit_id}"]
    for url in draw_pages:
        assert register.clients["other"].get(url).status_code == 403, url
        assert register.clients["granted"].get(url).status_code == 200, url
    outcomes = {"file": (io.BytesIO(b"graduate_id,outcome\nA001,confirmed\n"), "cb.csv")}
    refused = register.clients["other"].post(f"/admin/graduates/verification/{register.verification_id}/outcomes", data=outcomes,
                                             content_type="multipart/form-data")
    assert refused.status_code == 403
    assert register.clients["other"].post(f"/admin/graduates/units/{register.unit_id}", data={"outcome": "confirmed"}).status_code == 403
    assert register.clients["statistician"].get(f"/admin/graduates/survey/{register.survey_id}").status_code == 200  # results
    index = register.clients["other"].get("/admin/graduates/").get_data(as_text=True)
    assert f"/verification/{register.verification_id}" not in index and f"/survey/{register.survey_id}" not in index
    assert f"/verification/{register.verification_id}" in register.clients["owner"].get("/admin/graduates/").get_data(as_text=True)
    # a draw is made for a project its maker manages
    mine = register.clients["other"].post("/admin/graduates/survey", data={"cohort": "2026", "seed": "4", "project_id": str(register.project_id)})
    assert mine.status_code == 403
    unnamed = register.clients["other"].post("/admin/graduates/survey", data={"cohort": "2026", "seed": "4"})
    assert unnamed.status_code == 422 and "project_id" in unnamed.get_data(as_text=True)


def test_register_pages_need_a_project(register: Register) -> None:
    pages = ["/admin/graduates/", "/admin/graduates/2026/register", "/admin/graduates/2026/rates",
             f"/admin/graduates/graduate/{register.graduate_id}"]
    for url in pages:
        assert register.clients["nobody"].get(url).status_code == 403, url
        assert register.clients["other"].get(url).status_code == 200, url
    imported = register.clients["nobody"].post("/admin/graduates/import", data={"cohort": "2026", "file": (io.BytesIO(b"x"), "r.csv")},
                                               content_type="multipart/form-data")
    assert imported.status_code == 403


def test_revealing_an_identity_is_a_reasoned_post_for_ones_own_project(register: Register, session: Session) -> None:
    record = f"/admin/graduates/graduate/{register.graduate_id}"
    for who in ("owner", "other", "admin"):
        masked = register.clients[who].get(record).get_data(as_text=True)
        assert not _phone(masked) and "138****8000" in masked, who
    for who in ("other", "nobody"):
        response = register.clients[who].post(record, data={"purpose": "curious"})
        assert response.status_code == 403 and not _phone(response.get_data(as_text=True)), who
    blank = register.clients["owner"].post(record, data={"purpose": "   "})
    assert blank.status_code == 422 and not _phone(blank.get_data(as_text=True)) and "purpose" in blank.get_data(as_text=True)
    clear = register.clients["granted"].post(record, data={"purpose": "回访核实去向"})
    assert clear.status_code == 200 and _phone(clear.get_data(as_text=True))
    assert _phone(register.clients["admin"].post(record, data={"purpose": "complaint 42"}).get_data(as_text=True))
    reveals = session.scalars(select(AuditEvent).where(AuditEvent.action == "personal_data.reveal").order_by(AuditEvent.id)).all()
    assert [(e.details["purpose"], e.actor_label) for e in reveals] == [("回访核实去向", "granted@example.org"), ("complaint 42", "admin@example.org")]
    assert reveals[0].details["project_ids"] == [register.project_id]


def test_the_callback_page_reveals_only_on_a_reasoned_post(register: Register, session: Session) -> None:
    page = f"/admin/graduates/units/{register.unit_id}"
    call = register.clients["owner"].get(page)
    assert call.status_code == 200 and not _phone(call.get_data(as_text=True)) and "138****8000" in call.get_data(as_text=True)
    assert register.clients["owner"].post(page, data={"action": "reveal", "purpose": ""}).status_code == 422
    shown = register.clients["owner"].post(page, data={"action": "reveal", "purpose": "callback"})
    assert shown.status_code == 200 and _phone(shown.get_data(as_text=True))
    rejected = register.clients["owner"].post(page, data={"outcome": "unreachable", "attempts": "1"})
    assert rejected.status_code == 422 and not _phone(rejected.get_data(as_text=True))
    assert register.clients["other"].post(page, data={"action": "reveal", "purpose": "callback"}).status_code == 403
    events = session.scalars(select(AuditEvent.action).where(AuditEvent.object_type == "graduate").order_by(AuditEvent.id)).all()
    assert events.count("personal_data.reveal") == 1


def _token(app: Flask, session: Session, project_ids: list[int], *, all_surveys: bool = False, name: str = "t") -> dict[str, str]:
    with db.session_factory(app)() as s:
        statistician = s.scalar(select(User).where(User.email == "statistician@example.org"))
        issued = api_tokens.create_token(s, owner=statistician, name=name, scopes=("graduates:read",), project_ids=project_ids, all_surveys=all_surveys)
        s.commit()
    return {"Authorization": f"Bearer {issued.secret}"}


def test_tokens_read_the_draws_of_their_surveys(app: Flask, register: Register, session: Session) -> None:
    client = app.test_client()
    other = _token(app, session, [register.other_project_id], name="other")
    mine = _token(app, session, [register.project_id], name="mine")
    everything = _token(app, session, [], all_surveys=True, name="all")
    for url in (f"/api/v1/graduates/verification/{register.verification_id}/estimates", f"/api/v1/graduates/surveys/{register.survey_id}/estimates",
                "/api/v1/graduates/cohorts", "/api/v1/graduates/cohorts/2026/rates"):
        response = client.get(url, headers=other)
        assert response.status_code == 403 and response.json["error"] == "forbidden", url
        assert client.get(url, headers=everything).status_code == 200, url
    assert client.get("/api/v1/graduates/draws", headers=other).json == []
    assert {d["id"] for d in client.get("/api/v1/graduates/draws", headers=mine).json} == {register.verification_id, register.survey_id}
    assert client.get(f"/api/v1/graduates/surveys/{register.survey_id}/estimates", headers=mine).status_code == 200
    assert client.get("/api/v1/graduates/cohorts", headers=mine).status_code == 403  # the register is no one survey's
