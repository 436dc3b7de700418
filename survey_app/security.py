"""Log-in sessions (Flask-Login), CSRF protection (Flask-WTF) and role checks."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFProtect
from itsdangerous import URLSafeTimedSerializer

from survey_app import db
from survey_app.errors import Forbidden
from survey_app.models import Role, User

csrf = CSRFProtect()
F = TypeVar("F", bound=Callable[..., Any])


class SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, with the signing serializer built once per key rather than on
    every request (it is immutable; building it is a measurable part of a respondent's page view)."""

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = (app.secret_key, tuple(app.config["SECRET_KEY_FALLBACKS"] or ()))
        cached: tuple[Any, URLSafeTimedSerializer | None] | None = app.extensions.get("strata_session_serializer")
        if cached is None or cached[0] != key:
            cached = (key, super().get_signing_serializer(app))
            app.extensions["strata_session_serializer"] = cached
        return cached[1]


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    login = LoginManager()
    login.login_view = "auth.login"
    login.session_protection = "strong"
    login.init_app(app)

    @login.user_loader
    def _load(user_id: str) -> User | None:
        user = db.session().get(User, int(user_id))
        return user if user is not None and user.is_active else None

    csrf.init_app(app)

    @app.after_request
    def _headers(response: Any) -> Any:
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response


def roles_required(*roles: Role) -> Callable[[F], F]:
    """Allow logged-in users with one of ``roles`` (admins always); others get 403."""

    def decorator(view: F) -> F:
        @wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            from flask_login import login_required

            if not current_user.is_authenticated:
                return login_required(view)(*args, **kwargs)
            if not current_user.has_role(*roles):
                raise Forbidden("Your role does not allow this page.")
            return view(*args, **kwargs)

        return wrapped  # type: ignore[return-value]

    return decorator
