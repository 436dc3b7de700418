"""The statistics API under ``/api/v1``: flask-smorest set-up and the OpenAPI description.

A feature adds its API endpoints with :func:`register_blueprint` from its ``init_app``
(``survey_app.analysis`` for the survey endpoints, ``survey_app.graduates`` for ``/graduates``);
every registered blueprint is documented in ``/api/v1/openapi.json`` and on ``/api/v1/docs``.
Errors keep the application's one JSON shape (:mod:`survey_app.core.errors`): this Api does not
install flask-smorest's own error handler, and documents :class:`ErrorSchema` instead.

API blueprints are :class:`ApiBlueprint`: their request bodies are read by :class:`ApiParser`,
which refuses JSON nested deeper than :data:`MAX_JSON_DEPTH` with a 400.
"""

from __future__ import annotations

from typing import Any

import flask
import flask_smorest
import marshmallow as ma
from flask import Flask
from flask_babel import gettext as _
from flask_smorest import Api
from webargs.flaskparser import FlaskParser

from survey_app.core.errors import BadRequest
from survey_app.core.security import csrf

API_PREFIX = "/api/v1"


#: Largest id accepted in paths and parameters (32-bit, fits every database).
MAX_ID = 2_147_483_647


#: Deepest nesting of objects and lists accepted in a JSON body (a weighting scheme needs 5).
MAX_JSON_DEPTH = 32


def json_depth(value: Any) -> int:
    """Levels of objects and lists in parsed JSON (``1`` for ``{}``, ``0`` for a number), without recursion."""
    deepest = 0
    pending = [(value, 1)]
    while pending:
        item, level = pending.pop()
        children = item.values() if isinstance(item, dict) else item if isinstance(item, list) else None
        if children is None:
            continue
        deepest = max(deepest, level)
        pending.extend((child, level + 1) for child in children)
    return deepest


def _too_deep() -> BadRequest:
    return BadRequest(
        _("The JSON body is nested too deeply: at most %(depth)d levels of objects and lists are accepted.", depth=MAX_JSON_DEPTH),
        {"json": [_("nested deeper than %(depth)d levels", depth=MAX_JSON_DEPTH)]},
    )


class ApiParser(FlaskParser):
    """webargs' Flask parser, refusing JSON bodies nested deeper than :data:`MAX_JSON_DEPTH` (400).

    Python's ``json`` module recurses once per level: a body thousands of levels deep stops it
    with a ``RecursionError``, and one a few hundred deep would do the same later, when the spec
    is hashed or stored. Neither reaches a schema.
    """

    def load_json(self, req: flask.Request, schema: ma.Schema) -> Any:
        try:
            data = super().load_json(req, schema)
        except RecursionError:
            raise _too_deep() from None
        if json_depth(data) > MAX_JSON_DEPTH:
            raise _too_deep()
        return data


class ApiBlueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """The blueprint of every API endpoint (arguments read by :class:`ApiParser`)."""

    ARGUMENTS_PARSER = ApiParser()


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


def register_blueprint(app: Flask, blp: flask_smorest.Blueprint) -> None:
    """Add an API blueprint (documented in ``/api/v1/openapi.json``); :func:`init_app` comes first."""
    # Bearer tokens, never cookies, authenticate the API: CSRF protection does not apply.
    csrf.exempt(blp)
    app.extensions["flask-smorest"]["apis"][""]["ext_obj"].register_blueprint(blp)
