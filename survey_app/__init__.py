"""Strata web application: respondents' forms, designers' admin pages, statisticians' API."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Configuration is read here, from the environment (see :mod:`survey_app.config`), then
    overridden by ``config``. Nothing is read at import time.
    """
    from survey_app import cli, db, errors, i18n, security
    from survey_app.config import load_config
    from survey_app.views import register_blueprints

    app = Flask(__name__, instance_relative_config=True)
    app.config.update(load_config(app.instance_path, overrides=config))
    db.init_app(app)
    i18n.init_app(app)
    security.init_app(app)
    errors.init_app(app)
    register_blueprints(app)
    cli.init_app(app)
    return app
