"""Token authentication for the ``/api/v1`` blueprints.

Usage in an API view module (e.g. ``views/api_graduates.py``)::

    from survey_app.analysis.api_auth import current_token, require_project, require_token

    @blp.route("/graduates/<int:project_id>")
    class Graduates(MethodView):
        @blp.response(200, GraduateSchema(many=True))
        @require_token(scope="graduates:read")      # innermost: closest to the function
        def get(self, project_id):
            session = db.session()
            project = require_project(session, project_id)   # 404 / 403 for another survey
            rows = graduates.list_rows(session, project, actor=current_token.user)
            return rows                                     # no commit: the decorator commits

``require_token`` reads ``Authorization: Bearer <token>``, answers 401 (missing, unknown,
revoked or expired token) or 403 (scope missing) in the common error shape, exposes the token
as ``current_token`` (its owner: ``current_token.user``), documents the bearer security and
the 401/403 responses in the OpenAPI spec, and commits the request session once after the
view returns (the token's last-use time and the audit events the view recorded).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast

from flask import g, request
from flask_smorest.utils import deepupdate
from werkzeug.local import LocalProxy

from survey_app.analysis.models import ApiToken
from survey_app.analysis.services import api_tokens
from survey_app.core import db
from survey_app.projects.models import SurveyProject
from survey_app.projects.services import surveys

F = TypeVar("F", bound=Callable[..., Any])


BEARER_SCHEME = "bearerAuth"


def _current() -> ApiToken:
    token = g.get("api_token")
    if token is None:
        raise RuntimeError("current_token is only set inside a @require_token view")
    return cast(ApiToken, token)


#: The token of the current API request.
current_token: ApiToken = cast(ApiToken, LocalProxy(_current))


def require_token(scope: str | None = None) -> Callable[[F], F]:
    """Authenticate the request with a bearer token carrying ``scope``."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            session = db.session()
            token = api_tokens.authenticate(session, request.headers.get("Authorization"))
            if scope is not None:
                api_tokens.require_scope(token, scope)
            g.api_token = token
            result = view(*args, **kwargs)
            session.commit()
            return result

        doc = {
            "security": [{BEARER_SCHEME: []}],
            "responses": {"401": "UNAUTHORIZED", "403": "FORBIDDEN", "404": "NOT_FOUND"},
        }
        if scope is not None:
            doc["x-required-scope"] = scope
        apidoc = dict(getattr(wrapped, "_apidoc", {}))
        apidoc["manual_doc"] = deepupdate(dict(apidoc.get("manual_doc", {})), doc)
        wrapped._apidoc = apidoc  # type: ignore[attr-defined]
        return cast(F, wrapped)

    return decorator


def require_project(session: Any, project_id: int) -> SurveyProject:
    """The survey project ``project_id`` if the current token may read it (else 404/403)."""
    project = surveys.get_project(session, project_id)
    api_tokens.require_project(_current(), project)
    return project
