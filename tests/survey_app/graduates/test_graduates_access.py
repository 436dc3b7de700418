"""Who sees and changes which graduate data (issue #20)."""

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

from survey_app.accounts.models import AuditEvent, Role
from survey_app.analysis.models import WeightingScheme
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
