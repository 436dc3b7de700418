"""Strata web application: respondents' forms, designers' admin pages, statisticians' API.

One package per feature, each with its models, services, views and templates; dependencies point
one way (``setup.cfg``'s import-linter contracts enforce it, the README has the map)::

    demo
    graduates | satisfaction | inspections
    workspace
    analysis
    review
    respond
    questionnaires | fieldwork
    projects
    accounts
    core
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask


def create_app(config: Mapping[str, Any] | None = None) -> Flask:
    """Build the Flask application.

    Configuration is read here, from the environment (see :mod:`survey_app.core.config`), then
    overridden by ``config``. Nothing is read at import time. Every feature's ``init_app``
    registers its blueprints, labels and commands, lowest layer first.
    """
    from survey_app import (
        accounts,
        analysis,
        core,
        demo,
        fieldwork,
        graduates,
        inspections,
        questionnaires,
        respond,
        review,
        satisfaction,
        workspace,
    )
    from survey_app.core.config import load_config

    app = Flask(__name__, instance_relative_config=True, static_folder="core/static", template_folder="core/templates")
    app.config.update(load_config(app.instance_path, overrides=config))
    for feature in (core, accounts, questionnaires, fieldwork, respond, review, analysis, workspace, graduates,
                    satisfaction, inspections, demo):
        feature.init_app(app)
    return app
