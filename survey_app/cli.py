"""The ``strata`` console script: Flask's command line with the application made by
:func:`survey_app.create_app` (every feature adds its commands in its ``init_app``)."""

from __future__ import annotations

from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    from survey_app import create_app

    return create_app()


def main() -> None:
    """Entry point of the ``strata`` console script."""
    FlaskGroup(create_app=_create_app, help="Strata survey service.")()
