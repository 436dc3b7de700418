"""Log-in sessions (Flask-Login), CSRF protection (Flask-WTF) and role checks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Flask, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_login import LoginManager, current_user
from flask_wtf.csrf import CSRFError, CSRFProtect, same_origin
from itsdangerous import URLSafeTimedSerializer
from werkzeug.wrappers import Response

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


# Respondents' pages ---------------------------------------------------------------------------------
#
# Respondents never log in, and their pages are the busiest of the application: their forms are
# protected against cross-site request forgery without a server-side session (a signed double submit).
# Every browser gets a random key in an HttpOnly cookie; a form's token is an HMAC of that key and the
# link under a key derived from SECRET_KEY. A forged cross-site POST carries the victim's cookie but
# cannot carry the matching token: the attacker can neither read the cookie nor compute the HMAC. This is
# as strong as Flask-WTF's session-bound tokens (both trust a cookie the attacker cannot set; both check
# the Referer over HTTPS) and costs one HMAC instead of signing, timestamping and serialising a session
# cookie and a token on every page (about a sixth of the app's CPU per respondent). Like
# Flask-WTF's tokens here (``WTF_CSRF_TIME_LIMIT = None``), a token lasts as long as its browser's key.

BROWSER_COOKIE = "strata_browser"
_BROWSER_KEY = re.compile(r"[A-Za-z0-9_-]{24}")


def _respondent_mac_key(app: Flask) -> bytes:
    secret = str(app.config["SECRET_KEY"]).encode()
    cached: tuple[bytes, bytes] | None = app.extensions.get("strata_respondent_csrf")
    if cached is None or cached[0] != secret:
        cached = (secret, hmac.new(secret, b"strata-respondent-csrf", hashlib.sha256).digest())
        app.extensions["strata_respondent_csrf"] = cached
    return cached[1]


def _browser_key() -> str | None:
    raw = request.cookies.get(BROWSER_COOKIE, "")
    return raw if _BROWSER_KEY.fullmatch(raw) else None


def respondent_csrf_token(link: str) -> str:
    """The CSRF token for a form posted to the respondent link ``link`` from this browser; a browser
    without a (valid) key gets a new one, set as a cookie by :func:`set_browser_cookie`."""
    key = _browser_key()
    if key is None:
        key = g.get("strata_new_browser_key")
        if key is None:
            key = g.strata_new_browser_key = secrets.token_urlsafe(18)
    return _respondent_mac(key, link)


def _respondent_mac(browser_key: str, link: str) -> str:
    mac = hmac.new(_respondent_mac_key(current_app), f"{browser_key}\x00{link}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).rstrip(b"=").decode()


def check_respondent_csrf(link: str) -> None:
    """Reject a respondent's POST to ``link`` without this browser's token for it (400, as Flask-WTF)."""
    if not current_app.config.get("WTF_CSRF_ENABLED", True):
        return
    given = request.form.get("csrf_token")
    if not given:
        raise CSRFError("The CSRF token is missing.")
    key = _browser_key()
    if key is None:
        raise CSRFError("The CSRF session token is missing.")
    if not hmac.compare_digest(given.encode(), _respondent_mac(key, link).encode()):
        raise CSRFError("The CSRF token is invalid.")
    if request.is_secure and current_app.config.get("WTF_CSRF_SSL_STRICT", True):
        if not request.referrer:
            raise CSRFError("The referrer header is missing.")
        if not same_origin(request.referrer, f"https://{request.host}/"):
            raise CSRFError("The referrer does not match the host.")


def set_browser_cookie(response: Response) -> Response:
    """Send the browser key made for this request's token (see :func:`respondent_csrf_token`)."""
    key = g.get("strata_new_browser_key")
    if key is not None:  # a browser-session cookie, as Flask's session was: no identifier outlives the visit
        response.set_cookie(BROWSER_COOKIE, key, path=f"{request.script_root}/r/", httponly=True, samesite="Lax",
                            secure=current_app.config["SESSION_COOKIE_SECURE"])
    return response


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
