"""``strata demo load``: the demo data."""

from __future__ import annotations

import click
from flask.cli import with_appcontext

from survey_app.core import db


@click.group("demo", help="Demo data.")
def demo_group() -> None:
    pass


@demo_group.command("load")
@with_appcontext
def demo_load() -> None:
    """Add the demo users and surveys (idempotent) and print how to log in."""
    from survey_app.demo.services import demo

    session = db.session()
    summary = demo.load(session)
    session.commit()
    click.echo(f"Demo data: {len(summary.created)} created, {len(summary.existing)} already there.")
    click.echo("Log in at http://127.0.0.1:5000/login with one of these demo accounts:")
    for role, email, password, _name in demo.DEMO_USERS:
        click.echo(f"  {role.value:<13} {email:<30} password: {password}")
    from survey_app.demo.services.demo_questionnaires import respondent_links

    for what, path in respondent_links(session):
        click.echo(f"Respondent link, {what}: http://127.0.0.1:5000{path}")
    if getattr(summary, "api_token", None):  # statistics API demo token (services/demo_api.py), shown once
        click.echo(f"Statistics API token of statistician@strata.example (shown once): {summary.api_token}")
