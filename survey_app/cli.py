"""Command line: ``strata ...`` or ``flask --app wsgi ...``.

    strata db upgrade            create or upgrade the database schema (Alembic)
    strata db current            show the schema revision
    strata user create EMAIL --role designer   (asks for the password)
    strata demo load             add the demo users and surveys, print how to log in
"""

from __future__ import annotations

from pathlib import Path

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext

from survey_app import cli_api, db
from survey_app.errors import AppError
from survey_app.models import Role

MIGRATIONS = Path(__file__).resolve().parent.parent / "migrations"


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


@click.group("user", help="User accounts.")
def user_group() -> None:
    pass


@user_group.command("create")
@click.argument("email")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--name", "display_name", default=None, help="Display name.")
@click.password_option(prompt="Password", help="Asked for when not given.")
@with_appcontext
def user_create(email: str, role: str, display_name: str | None, password: str) -> None:
    """Create a user with a role. The password is stored hashed and never printed."""
    from survey_app.services import users

    session = db.session()
    try:
        user = users.create_user(session, email=email, password=password, role=role, display_name=display_name, actor_label="cli")
    except AppError as exc:
        session.rollback()
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
        raise click.ClickException(f"{exc.message} {details}".strip()) from exc
    session.commit()
    click.echo(f"Created {user.role.value} {user.email} (id {user.id}).")


@click.group("demo", help="Demo data.")
def demo_group() -> None:
    pass


@demo_group.command("load")
@with_appcontext
def demo_load() -> None:
    """Add the demo users and surveys (idempotent) and print how to log in."""
    from survey_app.services import demo

    session = db.session()
    summary = demo.load(session)
    session.commit()
    click.echo(f"Demo data: {len(summary.created)} created, {len(summary.existing)} already there.")
    click.echo("Log in at http://127.0.0.1:5000/login with one of these demo accounts:")
    for role, email, password, _name in demo.DEMO_USERS:
        click.echo(f"  {role.value:<13} {email:<30} password: {password}")
    from survey_app.services.demo_questionnaires import respondent_links

    for what, path in respondent_links(session):
        click.echo(f"Respondent link, {what}: http://127.0.0.1:5000{path}")
    if getattr(summary, "api_token", None):  # statistics API demo token (services/demo_api.py), shown once
        click.echo(f"Statistics API token of statistician@strata.example (shown once): {summary.api_token}")


def init_app(app: Flask) -> None:
    for group in (db_group, user_group, demo_group):
        app.cli.add_command(group)
    app.cli.add_command(cli_api.token_group)


def _create_app() -> Flask:
    from survey_app import create_app

    return create_app()


def main() -> None:
    """Entry point of the ``strata`` console script."""
    FlaskGroup(create_app=_create_app, help="Strata survey service.")()
