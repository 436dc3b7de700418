"""``strata user ...``: user accounts from the command line."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from survey_app.accounts.models import Role
from survey_app.core import db
from survey_app.core.errors import AppError


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
    from survey_app.accounts.services import users

    session = db.session()
    try:
        user = users.create_user(session, email=email, password=password, role=role, display_name=display_name, actor_label="cli")
    except AppError as exc:
        session.rollback()
        details = "; ".join(f"{k}: {', '.join(v)}" for k, v in (exc.errors or {}).items())
        raise click.ClickException(f"{exc.message} {details}".strip()) from exc
    session.commit()
    click.echo(f"Created {user.role.value} {user.email} (id {user.id}).")
