"""``strata token ...``: API tokens from the command line.

    strata token create statistician@example.org --name "R scripts" --survey county-education-satisfaction-2026
    strata token create admin@example.org --name all --all-surveys --scope microdata:read --expires-days 90
    strata token list
    strata token revoke 3
"""

from __future__ import annotations

from datetime import timedelta

import click
from flask.cli import with_appcontext

from survey_app.analysis.models import API_SCOPES, DEFAULT_SCOPES
from survey_app.core import db
from survey_app.core.errors import AppError
from survey_app.core.models import utcnow


def _fail(exc: AppError) -> click.ClickException:
    details = "; ".join(f"{k}: {', '.join(map(str, v))}" for k, v in (exc.errors or {}).items())
    return click.ClickException(f"{exc.message} {details}".strip())


@click.group("token", help="API tokens for the statistics API.")
def token_group() -> None:
    pass


@token_group.command("create")
@click.argument("owner_email")
@click.option("--name", required=True, help="What the token is for.")
@click.option("--scope", "scopes", multiple=True, type=click.Choice(list(API_SCOPES)), help=f"Repeatable; default: {', '.join(DEFAULT_SCOPES)}.")
@click.option("--survey", "survey_codes", multiple=True, help="Survey project code (repeatable).")
@click.option("--all-surveys", is_flag=True, help="Every survey project, present and future.")
@click.option("--expires-days", type=click.IntRange(1, 3650), default=None, help="Expire after this many days.")
@with_appcontext
def token_create(owner_email: str, name: str, scopes: tuple[str, ...], survey_codes: tuple[str, ...], all_surveys: bool, expires_days: int | None) -> None:
    """Create a token for OWNER_EMAIL (a statistician or admin) and print it once."""
    from survey_app.accounts.services import users
    from survey_app.analysis.services import api_tokens
    from survey_app.projects.services import surveys

    session = db.session()
    owner = users.get_by_email(session, owner_email)
    if owner is None:
        raise click.ClickException(f"No user {owner_email!r}.")
    try:
        project_ids = [surveys.get_project_by_code(session, code).id for code in survey_codes]
        issued = api_tokens.create_token(
            session, owner=owner, name=name, scopes=scopes or DEFAULT_SCOPES, project_ids=project_ids,
            all_surveys=all_surveys, expires_at=utcnow() + timedelta(days=expires_days) if expires_days else None,
            actor_label="cli",
        )
    except AppError as exc:
        session.rollback()
        raise _fail(exc) from exc
    session.commit()
    click.echo(f"Created API token {issued.token.id} ({', '.join(issued.token.scopes)}) for {owner.email}.")
    click.echo("Copy it now, it is not shown again:")
    click.echo(issued.secret)


@token_group.command("list")
@with_appcontext
def token_list() -> None:
    """List every token (never the secret)."""
    from survey_app.analysis.services import api_tokens

    session = db.session()
    for t in api_tokens.all_tokens(session):
        state = "revoked" if t.revoked_at else "active"
        surveys_text = "all" if t.all_surveys else ",".join(map(str, sorted(t.project_ids)))
        used = t.last_used_at.isoformat(timespec="minutes") if t.last_used_at else "never"
        click.echo(f"{t.id:>4} {t.prefix}… {state:<8} {t.user.email:<30} {t.name!r} scopes={','.join(t.scopes)} surveys={surveys_text} last_used={used}")


@token_group.command("revoke")
@click.argument("token_id", type=int)
@with_appcontext
def token_revoke(token_id: int) -> None:
    """Revoke token TOKEN_ID."""
    from survey_app.analysis.models import ApiToken
    from survey_app.analysis.services import api_tokens

    session = db.session()
    token = session.get(ApiToken, token_id)
    if token is None:
        raise click.ClickException(f"No API token {token_id}.")
    api_tokens.revoke_token(session, token, actor_label="cli")
    session.commit()
    click.echo(f"Revoked API token {token_id} ({token.name}).")
