"""`alembic upgrade head` on an empty database gives exactly the models' schema."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from survey_app import schema
from survey_app.core.cli import alembic_config
from survey_app.core.config import normalise_database_url

from .conftest import SERVER_URL


@pytest.fixture
def empty_database(tmp_path: Path) -> Iterator[str]:
    """A brand-new empty database on the dialect under test."""
    if not SERVER_URL:
        yield f"sqlite:///{tmp_path / 'migrations.sqlite3'}"
        return
    server = make_url(normalise_database_url(SERVER_URL))
    name = f"{server.database}_mig_{uuid.uuid4().hex[:10]}"  # beside the test database, named after it
    admin = create_engine(server.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def test_upgrade_head_matches_the_models(empty_database: str) -> None:
    command.upgrade(alembic_config(empty_database), "head")
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:
            context = MigrationContext.configure(conn, opts={"compare_type": True})
            diff = compare_metadata(context, schema.metadata)
            tables = set(inspect(conn).get_table_names())
        assert diff == [], f"migrations and models differ: {diff}"
        assert {t.name for t in schema.metadata.sorted_tables} | {"alembic_version"} == tables
    finally:
        engine.dispose()


def test_downgrade_to_base_and_up_again(empty_database: str) -> None:
    cfg = alembic_config(empty_database)
    command.upgrade(cfg, "head")
    command.downgrade(cfg, "base")
    engine = create_engine(empty_database)
    try:
        with engine.connect() as conn:
            assert set(inspect(conn).get_table_names()) <= {"alembic_version"}
    finally:
        engine.dispose()
    command.upgrade(cfg, "head")
