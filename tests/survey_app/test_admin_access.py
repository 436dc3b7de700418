"""Access: session cookie flags, lifetime, a fresh session at log-in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask

from survey_app import create_app
from survey_app.accounts.models import Role
from survey_app.core.config import load_config

from .conftest import login


def _cookie(response: Any, name: str = "strata_session") -> str:
    headers = [h for h in response.headers.getlist("Set-Cookie") if h.startswith(f"{name}=")]
    assert headers, response.headers
    return headers[-1]


def test_session_cookie_is_secure_configurable_and_expires(app: Flask, app_config: dict[str, Any], make_user: Any) -> None:
    from survey_app.core import db

    user = make_user(Role.DESIGNER)
    secure = create_app({**app_config, "SESSION_COOKIE_SECURE": True})  # STRATA_SECURE_COOKIES=1
    try:
        cookie = _cookie(login(secure.test_client(), user.email))
        assert "Secure" in cookie and "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Expires=" in cookie
        assert "Secure" not in _cookie(login(app.test_client(), user.email))
    finally:
        db.engine(secure).dispose()


def test_login_starts_a_fresh_session_and_keeps_the_language(app: Flask, make_user: Any) -> None:
    user = make_user(Role.DESIGNER)
    client = app.test_client()
    client.get("/login?lang=zh_CN")
    before = client.get_cookie("strata_session")
    assert before is not None
    login(client, user.email)
    after = client.get_cookie("strata_session")
    assert after is not None and after.value != before.value
    assert 'lang="zh-CN"' in client.get("/admin/").get_data(as_text=True)


def test_session_lifetime_setting() -> None:
    settings = load_config("/tmp/strata-instance-test", environ={"SECRET_KEY": "x", "STRATA_SESSION_HOURS": "2", "STRATA_SECURE_COOKIES": "1", "STRATA_ENCRYPTION_KEY": "k", "STRATA_FRAME_UPLOAD_DIR": "/srv/shared/uploads"})
    assert settings["PERMANENT_SESSION_LIFETIME"] == timedelta(hours=2) and settings["FRAME_UPLOAD_DIR"] == "/srv/shared/uploads"
    assert load_config("/tmp/strata-instance-test", environ={"SECRET_KEY": "x", "STRATA_ENCRYPTION_KEY": "k"})["FRAME_UPLOAD_DIR"] == "/tmp/strata-instance-test/frame_uploads"
    assert settings["SESSION_COOKIE_SECURE"] and settings["REMEMBER_COOKIE_SECURE"] and settings["SESSION_COOKIE_HTTPONLY"]
