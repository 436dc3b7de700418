"""The statistics API under ``/api/v1``: flask-smorest set-up and the OpenAPI description.

Every module ``survey_app/views/api_*.py`` that defines a flask-smorest ``blp`` is registered
here (documented in ``/api/v1/openapi.json``); a new API module needs no other change.
Errors keep the application's one JSON shape (:mod:`survey_app.errors`): this Api does not
install flask-smorest's own error handler, and documents :class:`ErrorSchema` instead.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import Any

import marshmallow as ma
from flask import Flask
from flask_smorest import Api, Blueprint

from survey_app.security import csrf

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
        """Keep :mod:`survey_app.errors` in charge of every error response."""


def api_modules() -> list[str]:
    import survey_app.views as views

    return sorted(
        f"survey_app.views.{m.name}"
        for m in pkgutil.iter_modules(views.__path__)
        if m.name.startswith("api_") and m.name not in ("api_auth", "api_formats", "api_reference")
    )


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
    api = StrataApi(app)
    from survey_app.views import admin_tokens, api_reference

    app.register_blueprint(api_reference.bp)
    app.register_blueprint(admin_tokens.bp)
    for name in api_modules():
        module = importlib.import_module(name)
        blp = getattr(module, "blp", None)
        if isinstance(blp, Blueprint):
            # Bearer tokens, never cookies, authenticate the API: CSRF protection does not apply.
            csrf.exempt(blp)
            api.register_blueprint(blp)
    return api
