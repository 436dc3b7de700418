"""Fixtures for the web application: a throw-away database per test.

The database comes from ``TEST_DATABASE_URL`` (e.g. PostgreSQL in CI); when it is unset each test
gets its own SQLite file. On a shared server database the schema is created once per session and
every table is emptied after each test.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text
from sqlalchemy.orm import Session

from survey_app import create_app, schema
from survey_app.accounts.models import Role, User
from survey_app.accounts.services import users
from survey_app.core import db
from survey_app.core.config import normalise_database_url

SERVER_URL = os.environ.get("TEST_DATABASE_URL", "")
PASSWORD = "correct horse battery"


@pytest.fixture(scope="session")
def server_database() -> Iterator[str | None]:
    """The shared database URL (schema created once), or None for per-test SQLite."""
    if not SERVER_URL:
        yield None
        return
    engine = db.make_engine(normalise_database_url(SERVER_URL))
    schema.metadata.drop_all(engine)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE IF EXISTS alembic_version"))
    schema.metadata.create_all(engine)
    engine.dispose()
    yield SERVER_URL


def _empty_tables(app: Flask) -> None:
    engine = db.engine(app)
    names = ", ".join(f'"{t.name}"' for t in schema.metadata.sorted_tables)
    with engine.begin() as conn:
        if engine.dialect.name == "postgresql":
            conn.execute(text(f"TRUNCATE {names} RESTART IDENTITY CASCADE"))
        else:
            for table in reversed(schema.metadata.sorted_tables):
                conn.execute(table.delete())


@pytest.fixture
def database_url(server_database: str | None, tmp_path: Path) -> str:
    return server_database or f"sqlite:///{tmp_path / 'test.sqlite3'}"


@pytest.fixture
def app_config(database_url: str, tmp_path: Path) -> dict[str, Any]:
    return {
        "TESTING": True,
        "DATABASE_URL": database_url,
        "SECRET_KEY": "test-secret-key",
        "WTF_CSRF_ENABLED": False,
        "BABEL_DEFAULT_LOCALE": "en",
        "FRAME_UPLOAD_DIR": str(tmp_path / "frame_uploads"),
    }


@pytest.fixture
def app(app_config: dict[str, Any], server_database: str | None) -> Iterator[Flask]:
    application = create_app(app_config)
    if server_database is None:
        schema.metadata.create_all(db.engine(application))
    yield application
    if server_database is not None:
        _empty_tables(application)
    db.engine(application).dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def session(app: Flask) -> Iterator[Session]:
    """A session of its own (not the request's), for arranging and checking data."""
    with db.session_factory(app)() as s:
        yield s


@pytest.fixture
def make_user(app: Flask):  # type: ignore[no-untyped-def]
    def factory(role: Role | str = Role.DESIGNER, email: str | None = None, password: str = PASSWORD) -> User:
        role = Role(role)
        with db.session_factory(app)() as s:
            user = users.create_user(s, email=email or f"{role.value}@example.org", password=password, role=role, actor_label="test")
            s.commit()
            return user

    return factory


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"email": email, "password": password})


@pytest.fixture
def logged_in(client: FlaskClient, make_user):  # type: ignore[no-untyped-def]
    """Log in a user of the given role on ``client`` and return it."""

    def do(role: Role | str = Role.DESIGNER) -> User:
        user = make_user(role)
        response = login(client, user.email)
        assert response.status_code == 302, response.get_data(as_text=True)
        return user

    return do
