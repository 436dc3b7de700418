from __future__ import annotations

import os
import time

import psycopg
import pytest
from flask import Flask
from sqlalchemy import func, make_url, select, text
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, AuditLogReadOnly
from survey_app.accounts.services import audit
from survey_app.core import db
from survey_app.core.config import normalise_database_url
from survey_app.core.errors import ValidationFailed
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys

from ..conftest import SERVER_URL


def test_runs_on_the_configured_dialect(app: Flask) -> None:
    """In CI the second run sets TEST_DATABASE_URL to PostgreSQL: prove we really talk to it."""
    engine = db.engine(app)
    with engine.connect() as conn:
        if SERVER_URL.startswith(("postgresql", "postgres")):
            assert engine.dialect.name == "postgresql"
            assert "PostgreSQL" in conn.execute(text("SELECT version()")).scalar_one()
            assert engine.url.database == make_url(normalise_database_url(SERVER_URL)).database
        else:
            assert engine.dialect.name == "sqlite"
            assert conn.execute(text("PRAGMA foreign_keys")).scalar_one() == 1


def _project_data(code: str = "demo-survey") -> dict[str, str]:
    return {
        "code": code,
        "title": "测试调查",
        "form_number": "表1号",
        "issuing_authority": "某统计局",
        "approval_number": "统制〔2026〕1号",
        "valid_until": "2030-12-31",
    }


def test_request_session_rolls_back_when_a_view_fails(app: Flask, session: Session) -> None:
    @app.post("/_test/half-write")
    def half_write() -> str:
        surveys.create_project(db.session(), _project_data())
        raise ValidationFailed("second step failed")

    response = app.test_client().post("/_test/half-write", headers={"Accept": "application/json"})
    assert response.status_code == 422
    assert response.get_json() == {"error": "validation_failed", "message": "second step failed"}
    assert session.scalar(select(func.count(SurveyProject.id))) == 0


def test_request_session_commits_once_at_the_end_of_a_write(app: Flask, session: Session) -> None:
    @app.post("/_test/write")
    def write() -> str:
        s = db.session()
        surveys.create_project(s, _project_data("one"))
        surveys.create_project(s, _project_data("two"))
        s.commit()
        return "ok"

    assert app.test_client().post("/_test/write").status_code == 200
    assert session.scalar(select(func.count(SurveyProject.id))) == 2
    actions = session.scalars(select(AuditEvent.action)).all()
    assert actions == ["survey.create", "survey.create"]


def test_rejected_input_writes_nothing(session: Session) -> None:
    bad = _project_data() | {"valid_until": "not a date", "code": "Bad Code!"}
    with pytest.raises(ValidationFailed) as info:
        surveys.create_project(session, bad)
    assert set(info.value.errors or {}) == {"valid_until", "code"}
    session.rollback()
    assert session.scalar(select(func.count(AuditEvent.id))) == 0


def test_audit_log_cannot_be_edited_or_deleted(session: Session) -> None:
    event = audit.record(session, "test.action", actor_label="tester", details={"k": [1, 2]})
    session.commit()
    event.action = "tampered"
    with pytest.raises(AuditLogReadOnly):
        session.commit()
    session.rollback()
    session.delete(session.get(AuditEvent, event.id))
    with pytest.raises(AuditLogReadOnly):
        session.commit()
    session.rollback()
    assert session.scalars(select(AuditEvent.action)).all() == ["test.action"]


def test_survey_validity_rules(session: Session) -> None:
    import datetime as dt

    project = surveys.create_project(session, _project_data() | {"status": "active", "fieldwork_start": "2030-01-01", "fieldwork_end": "2030-06-30"})
    assert not project.accepts_responses_on(dt.date(2029, 12, 31))
    assert project.accepts_responses_on(dt.date(2030, 3, 1))
    assert not project.accepts_responses_on(dt.date(2030, 7, 1))
    with pytest.raises(ValidationFailed) as info:
        surveys.create_project(session, _project_data("late") | {"fieldwork_end": "2031-01-01"})
    assert "fieldwork_end" in (info.value.errors or {})


@pytest.mark.skipif(not os.environ.get("TEST_DATABASE_URL", "").startswith("postgresql"),
                    reason="server-side connection termination needs PostgreSQL")
def test_connections_closed_by_the_server_are_replaced_before_a_request_uses_them(app: Flask) -> None:
    engine = db.engine(app)
    with engine.connect() as pooled:  # the connection the next request checks out of the pool
        pid = pooled.exec_driver_sql("SELECT pg_backend_pid()").scalar()
    with psycopg.connect(engine.url.set(drivername="postgresql").render_as_string(hide_password=False), autocommit=True) as outside:
        assert outside.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    time.sleep(0.2)  # the server's farewell reaches the pooled socket
    client = app.test_client()
    for _ in range(3):  # the dead connection is discarded at checkout: no request fails
        assert client.get("/healthz").status_code == 200
    with engine.connect() as pooled:
        assert pooled.exec_driver_sql("SELECT pg_backend_pid()").scalar() != pid
