"""``strata frames cleanup``: staged uploads left unused and imports whose process was killed (for cron)."""

from __future__ import annotations

from datetime import timedelta

import click
from flask import current_app
from flask.cli import with_appcontext

from survey_app.core import db, frame_files


@click.group("frames", help="Sampling frames.")
def frames_group() -> None:
    pass


@frames_group.command("cleanup")
@with_appcontext
def frames_cleanup() -> None:
    """Remove staged uploads unused for STRATA_STAGED_UPLOAD_HOURS and fail the imports that stopped making progress."""
    from survey_app.fieldwork.services import frames

    keep_for = timedelta(hours=int(current_app.config["STAGED_UPLOAD_HOURS"]))
    removed = frame_files.remove_stale(str(current_app.config["FRAME_UPLOAD_DIR"]), keep_for)
    session = db.session()
    failed = frames.fail_stalled_imports(session)
    session.commit()
    click.echo(f"{removed} staged upload(s) removed, {failed} stalled import(s) failed.")
