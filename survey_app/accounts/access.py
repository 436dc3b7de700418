"""Who is asking: the log-in manager (Flask-Login), the logged-in user, and the role check of
every admin page."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask
from flask_login import LoginManager, current_user

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import users
from survey_app.core import db
from survey_app.core.errors import Forbidden

F = TypeVar("F", bound=Callable[..., Any])


def init_app(app: Flask) -> None:
    login = LoginManager()
    login.login_view = "auth.login"
    login.session_protection = "strong"
    login.init_app(app)

    @login.user_loader
    def _load(session_id: str) -> User | None:
        return users.session_user(db.session(), session_id)


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


def actor() -> User:
    """The logged-in user as an ORM object of the request's session."""
    user = current_user._get_current_object()
    assert isinstance(user, User)
    return user
