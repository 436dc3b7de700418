"""``strata db ...``: the database schema (Alembic). ``strata`` is ``flask --app wsgi``.

    strata db upgrade            create or upgrade the database schema (Alembic)
    strata db current            show the schema revision

The other commands come with their features: ``strata user ...`` (accounts), ``strata token ...``
(analysis), ``strata demo load`` (demo).
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import with_appcontext

from survey_app.core import db

MIGRATIONS = Path(__file__).resolve().parents[2] / "migrations"


def alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def upgrade_database(app: Flask, revision: str = "head") -> None:
    from alembic import command

    with db.engine(app).begin() as connection:
        cfg = alembic_config(app.config["DATABASE_URL"])
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)


@click.group("db", help="Database schema.")
def db_group() -> None:
    pass


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Create or upgrade the schema to REVISION (default: head)."""
    upgrade_database(current_app._get_current_object(), revision)  # type: ignore[attr-defined]
    click.echo(f"Database at {db.engine().url.render_as_string(hide_password=True)} is at {revision}.")


@db_group.command("current")
@with_appcontext
def db_current() -> None:
    """Print the schema revision of the database."""
    from alembic.runtime.migration import MigrationContext

    with db.engine().connect() as connection:
        click.echo(MigrationContext.configure(connection).get_current_revision() or "empty")


def init_app(app: Flask) -> None:
    app.cli.add_command(db_group)
