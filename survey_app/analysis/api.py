"""The statistics API under ``/api/v1``: flask-smorest set-up and the OpenAPI description.

A feature adds its API endpoints with :func:`register_blueprint` from its ``init_app``
(``survey_app.analysis`` for the survey endpoints, ``survey_app.graduates`` for ``/graduates``);
every registered blueprint is documented in ``/api/v1/openapi.json`` and on ``/api/v1/docs``.
Errors keep the application's one JSON shape (:mod:`survey_app.core.errors`): this Api does not
install flask-smorest's own error handler, and documents :class:`ErrorSchema` instead.
"""

from __future__ import annotations

from typing import Any

import marshmallow as ma
from flask import Flask
from flask_smorest import Api, Blueprint

from survey_app.core.security import csrf

API_PREFIX = "/api/v1"


#: Largest id accepted in paths and parameters (32-bit, fits every database).
MAX_ID = 2_147_483_647


class ErrorSchema(ma.Schema):
    """The one error shape of the API."""

    error = ma.fields.String(required=True, metadata={"description": "Machine-readable code, e.g. 'forbidden'."})
    message = ma.fields.String(required=True, metadata={"description": "Readable explanation."})
    errors = ma.fields.Dict(metadata={"description": "Per-field messages (validation errors)."})


class StrataApi(Api):  # type: ignore[misc]
    ERROR_SCHEMA = ErrorSchema

    def _register_error_handlers(self) -> None:
        """Keep :mod:`survey_app.core.errors` in charge of every error response."""


def init_app(app: Flask) -> Api:
    app.config.setdefault("API_TITLE", "Strata statistics API")
    app.config.setdefault("API_VERSION", "v1")
    app.config.setdefault("OPENAPI_VERSION", "3.0.3")
    app.config.setdefault("OPENAPI_URL_PREFIX", API_PREFIX)
    app.config.setdefault("OPENAPI_JSON_PATH", "openapi.json")
    spec_options: dict[str, Any] = {
        "info": {
            "description": (
                "Weighted estimates with confidence intervals, codebooks, weighting schemes, "
                "response rates and de-identified microdata of Strata survey projects. "
                "Authenticate with `Authorization: Bearer <token>` (tokens are created by an "
                "administrator or statistician). Every error has the body "
                "`{\"error\", \"message\", \"errors\"?}`."
            ),
        },
        "servers": [{"url": "/"}],
        "components": {
            "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}},
        },
    }
    app.config.setdefault("API_SPEC_OPTIONS", spec_options)
    return StrataApi(app)


def register_blueprint(app: Flask, blp: Blueprint) -> None:
    """Add an API blueprint (documented in ``/api/v1/openapi.json``); :func:`init_app` comes first."""
    # Bearer tokens, never cookies, authenticate the API: CSRF protection does not apply.
    csrf.exempt(blp)
    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)
