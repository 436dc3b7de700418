"""Application errors and their rendering.

Services raise :class:`AppError` subclasses; the handlers turn them (and HTTP errors) into one
JSON shape for the API, ``{"error": ..., "message": ..., "errors": {...}}``, and into a readable
HTML page for browsers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from flask import Flask, Response, jsonify, render_template, request
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class AppError(Exception):
    """An error with an HTTP status, a machine-readable code and a readable message."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str, errors: Mapping[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.errors = dict(errors) if errors else None


class BadRequest(AppError):
    status, code = 400, "bad_request"


class Unauthorized(AppError):
    status, code = 401, "unauthorized"


class Forbidden(AppError):
    status, code = 403, "forbidden"


class NotFound(AppError):
    status, code = 404, "not_found"


class Conflict(AppError):
    status, code = 409, "conflict"


class ValidationFailed(AppError):
    """Input is well formed but not acceptable (or statistically infeasible)."""

    status, code = 422, "validation_failed"


_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_failed",
    429: "too_many_requests",
    500: "internal_error",
    503: "unavailable",
}


def wants_json() -> bool:
    """API paths always get JSON; elsewhere, clients that prefer JSON over HTML."""
    if request.path.startswith("/api/") or request.path == "/healthz":
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def error_payload(status: int, code: str, message: str, errors: Mapping[str, Any] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": message}
    if errors:
        body["errors"] = dict(errors)
    return body


def _respond(status: int, code: str, message: str, errors: Mapping[str, Any] | None = None) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify(error_payload(status, code, message, errors)), status
    return render_template("error.html", status=status, message=message, errors=errors or {}), status


def init_app(app: Flask) -> None:
    @app.errorhandler(AppError)
    def _app_error(exc: AppError) -> tuple[Response | str, int]:
        return _respond(exc.status, exc.code, exc.message, exc.errors)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> Any:
        status = exc.code or 500
        if 300 <= status < 400:  # redirects raised as exceptions (e.g. routing) pass through
            return exc
        code = _HTTP_CODES.get(status, "http_error")
        messages = {
            400: _("The request could not be understood."),
            401: _("Please log in."),
            403: _("You do not have permission to do this."),
            404: _("The page or resource was not found."),
            405: _("This method is not allowed here."),
            413: _("The upload is too large."),
            429: _("Too many requests. Please wait and try again."),
        }
        message = messages.get(status, exc.description or exc.name)
        if isinstance(exc, CSRFError):  # a form without its token: expired (a new session) or forged elsewhere
            message = _("The form was not accepted: it has expired or did not come from this site. Reload the page and send it again.")
        errors = getattr(exc, "data", {}).get("messages") if hasattr(exc, "data") else None
        response = _respond(status, code, message, errors)
        if status == 405 and exc.get_response().headers.get("Allow"):
            body, _status = response
            resp = app.make_response((body, status))
            resp.headers["Allow"] = exc.get_response().headers["Allow"]
            return resp
        return response

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response | str, int]:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return _respond(500, "internal_error", _("Something went wrong on our side. The error has been logged."))
