"""Shared arrangements for the admin tests: users of every role, a project, a frame, a draw."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.security import generate_password_hash

from survey_app.accounts.models import Role, User
from survey_app.core import db, frame_files
from survey_app.fieldwork.models import SampleDraw, SamplingFrame
from survey_app.fieldwork.services import frames, samples
from survey_app.projects.models import ReviewerAssignment, SurveyProject
from survey_app.projects.services import project_admin
from survey_app.review.models import ReviewLevel

from .conftest import PASSWORD, login

ROLES = ("anonymous", "admin", "owner", "granted", "other_designer", "reviewer", "statistician")


def frame_csv(rows: int = 300, strata: int = 3, encoding: str = "utf-8", extra: str = "") -> bytes:
    lines = ["unit_id,school,size,phone"] + [f"g{i:05d},school-{i % strata},{i % 7 + 1},1380000{i:04d}" for i in range(rows)]
    return ("\n".join(lines) + "\n" + extra).encode(encoding)


def project_data(code: str = "grad-2026", **changes: Any) -> dict[str, Any]:
    today = date.today()
    data = {
        "code": code,
        "title": "毕业生调查",
        "title_en": "Graduate survey",
        "form_number": "教就调表1号",
        "issuing_authority": "示范省教育厅",
        "approval_number": "示统制〔2026〕12号",
        "valid_until": (today + timedelta(days=300)).isoformat(),
        "target_population": "2026届毕业生",
        "status": "active",
        "indicators": ["placement rate"],
    }
    data.update(changes)
    return data


def make_frame(app: Flask, session: Session, project: SurveyProject, actor: User, content: bytes | None = None, **mapping: Any) -> SamplingFrame:
    """Stage, validate and import a frame synchronously (the background path is tested separately)."""
    staged = frame_files.stage_upload(app.config["FRAME_UPLOAD_DIR"], "frame.csv", io.BytesIO(content or frame_csv()), project_id=project.id, user_id=actor.id)
    columns = {"unit_id": "unit_id", "stratum": "school", "size": "size", "contact": ["phone"], **mapping}
    frame, _ = frames.start_import(session, project, staged, frames.parse_mapping(frame_files.header(staged), columns), name="Graduates", actor=actor)
    session.commit()
    frames.run_import(db.session_factory(app), frame.id, staged)
    session.refresh(frame)
    return frame


def make_draw(session: Session, project: SurveyProject, frame: SamplingFrame, actor: User, n: int = 30, seed: int = 7) -> SampleDraw:
    design = samples.parse_design({"sample_size": str(n), "seed": str(seed), "confirm_new": "true"})
    record = samples.draw(session, project, frame, design, actor=actor)
    session.commit()
    return record


@dataclass
class World:
    users: dict[str, User]
    project: SurveyProject
    frame: SamplingFrame
    draw: SampleDraw

    def client_for(self, app: Flask, role: str) -> FlaskClient:
        client = app.test_client()
        if role != "anonymous":
            response = login(client, self.users[role].email)
            assert response.status_code == 302, role
        return client


@lru_cache(maxsize=1)
def _cheap_hash() -> str:
    """scrypt with small parameters: the log-in path is the real one, only faster in tests."""
    return generate_password_hash(PASSWORD, method="scrypt:1024:8:1")


def build_world(app: Flask) -> World:
    with db.session_factory(app)() as session:
        people = {}
        for key, role in (("admin", Role.ADMIN), ("owner", Role.DESIGNER), ("granted", Role.DESIGNER), ("other_designer", Role.DESIGNER), ("reviewer", Role.REVIEWER), ("statistician", Role.STATISTICIAN)):
            people[key] = User(email=f"{key}@example.org", display_name=key, password_hash=_cheap_hash(), role=role)
            session.add(people[key])
        session.flush()
        project = project_admin.create(session, project_data(), actor=people["owner"])
        project_admin.grant(session, project, people["granted"].id, actor=people["owner"])
        session.add(ReviewLevel(project_id=project.id, level=1, name="First review"))
        session.add(ReviewLevel(project_id=project.id, level=2, name="Final review"))
        session.add(ReviewerAssignment(project_id=project.id, user_id=people["reviewer"].id, level=1))
        session.commit()
        frame = make_frame(app, session, project, people["owner"])
        record = make_draw(session, project, frame, people["owner"])
        session.expunge_all()
        return World(people, project, frame, record)


def publish_questionnaire(session: Session, project: SurveyProject) -> Any:
    """The demo satisfaction questionnaire (two 8-item matrices), published on ``project``."""
    from survey_app.demo.services import demo_questionnaires
    from survey_app.questionnaires.services import questionnaires

    version = questionnaires.import_xlsform(session, project, demo_questionnaires.satisfaction_xlsform(), "s.xlsx", actor_label="test")
    questionnaires.publish(session, version, actor_label="test")
    session.flush()
    return version


def add_response(session: Session, project: SurveyProject, version: Any, unit: Any, *, complete: bool = True, answers: dict[str, Any] | None = None, seconds: float = 300.0, day: date | None = None) -> Any:
    """A response for a sampled unit, as the respondent pages would leave it."""
    from datetime import UTC, datetime, time

    from survey_app.respond.models import Response, ResponseStatus

    submitted = datetime.combine(day or date.today(), time(10, 0), UTC)
    values = answers if answers is not None else {f"i{k:02d}": str((k + unit.id) % 5 + 1) for k in range(1, 17)} | {"county": "c1", "unit": str(unit.id)}
    response = Response(
        project_id=project.id,
        version_id=version.id,
        sample_unit_id=unit.id,
        status=ResponseStatus.COMPLETE if complete else ResponseStatus.PARTIAL,
        answers=values,
        paradata={"pages": {"about": seconds / 2, "indicators_a": seconds / 2}, "visits": 1},
        started_at=submitted - timedelta(seconds=seconds),
        submitted_at=submitted if complete else None,
    )
    session.add(response)
    session.flush()
    return response
