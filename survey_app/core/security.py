"""Sessions (signed cookies), CSRF protection (Flask-WTF for log-in users, a signed double submit for
respondents) and the security headers of every response (Content-Security-Policy, HSTS in
production, ``Cache-Control: no-store`` on everything that is not public). Log-in and roles: :mod:`survey_app.accounts.access`."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import secrets
from typing import Any

from flask import Flask, current_app, g, request
from flask.sessions import SecureCookieSessionInterface
from flask_wtf.csrf import CSRFError, CSRFProtect, same_origin
from itsdangerous import URLSafeTimedSerializer
from werkzeug.wrappers import Response

csrf = CSRFProtect()


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


#: Scripts only from this site's static files: no inline script, event handler attribute or
#: ``eval`` runs, so injected markup cannot run code. Styles may be inline (the charts are SVG
#: with style attributes; questionnaire matrices set their column count).
CONTENT_SECURITY_POLICY = "; ".join([
    "default-src 'self'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data:",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])

#: What the ``Server`` header says: no server name or version for a scanner to match.
SERVER = "Strata"


def _never_stored() -> bool:
    """Admin pages, the API and every page seen with a session (logged in) carry data that no
    browser or proxy may keep."""
    return request.path.startswith(("/admin", "/api/")) or current_app.config["SESSION_COOKIE_NAME"] in request.cookies


def security_headers(response: Response) -> Response:
    """The headers every response gets (static files keep their own caching)."""
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers["Server"] = SERVER  # WSGI servers (werkzeug's, granian) add their own name and version only when absent
    max_age = current_app.config.get("HSTS_SECONDS", 0)
    if max_age:
        headers.setdefault("Strict-Transport-Security", f"max-age={max_age}; includeSubDomains")
    if request.endpoint != "static":
        if _never_stored():
            headers["Cache-Control"] = "no-store"
        else:
            headers.setdefault("Cache-Control", "no-store")  # a public view may choose to be cached
    return response


def init_app(app: Flask) -> None:
    app.session_interface = SessionInterface()
    csrf.init_app(app)
    app.after_request(security_headers)
