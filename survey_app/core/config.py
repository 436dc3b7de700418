"""Configuration read from the environment when the application is created.

Every setting has an environment variable; :func:`load_config` is called by ``create_app``
and never at import time, so tests and several processes can use different settings.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import Any

SUPPORTED_LOCALES = ("zh_CN", "en")


class ConfigError(RuntimeError):
    """A setting is missing or malformed."""


def normalise_database_url(url: str) -> str:
    """Use the psycopg 3 driver for plain ``postgresql://`` / ``postgres://`` URLs."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from exc


def _bool(env: Mapping[str, str], name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be true or false, got {raw!r}")


def _secret_key(env: Mapping[str, str], instance_path: str, production: bool) -> str:
    key = env.get("SECRET_KEY")
    if key:
        return key
    if production:
        raise ConfigError("SECRET_KEY must be set when STRATA_ENV=production")
    # Development: one key per instance folder, shared by every local process.
    path = Path(instance_path) / "secret_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(secrets.token_hex(32))
        path.chmod(0o600)
    return path.read_text().strip()


def _encryption_key(env: Mapping[str, str], instance_path: str, production: bool) -> str:
    """AES-256 key (urlsafe base64 of 32 bytes) for personal data at rest."""
    key = env.get("STRATA_ENCRYPTION_KEY")
    if key:
        return key
    if production:
        raise ConfigError("STRATA_ENCRYPTION_KEY must be set when STRATA_ENV=production")
    # Development: one key per instance folder, like SECRET_KEY. Losing it loses the data.
    path = Path(instance_path) / "encryption_key"
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        path.write_text(base64.urlsafe_b64encode(secrets.token_bytes(32)).decode("ascii"))
        path.chmod(0o600)
    return path.read_text().strip()


def load_config(
    instance_path: str,
    overrides: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """Return the application settings from ``environ`` (default: ``os.environ``)."""
    env = os.environ if environ is None else environ
    overrides = dict(overrides or {})
    production = env.get("STRATA_ENV", "development") == "production"
    locale = env.get("STRATA_DEFAULT_LOCALE", "zh_CN")
    if locale not in SUPPORTED_LOCALES:
        raise ConfigError(
            f"STRATA_DEFAULT_LOCALE must be one of {', '.join(SUPPORTED_LOCALES)}, got {locale!r}"
        )
    database_url = env.get("DATABASE_URL") or "sqlite:///" + str(
        Path(instance_path) / "strata.sqlite3"
    )
    settings: dict[str, Any] = {
        "STRATA_ENV": "production" if production else "development",
        "DATABASE_URL": normalise_database_url(database_url),
        "DATABASE_POOL_SIZE": _int(env, "STRATA_DB_POOL_SIZE", 5),
        "DATABASE_ECHO": _bool(env, "STRATA_DB_ECHO", False),
        "MAX_CONTENT_LENGTH": _int(env, "STRATA_MAX_UPLOAD_MB", 200) * 1024 * 1024,
        # proxies in front (nginx: 1) whose X-Forwarded-For/-Proto/-Host headers are trusted
        "PROXY_COUNT": _int(env, "STRATA_PROXIES", 0),
        "BABEL_DEFAULT_LOCALE": locale,
        "BABEL_DEFAULT_TIMEZONE": env.get("STRATA_TIMEZONE", "Asia/Shanghai"),
        "STRATA_LOCALES": SUPPORTED_LOCALES,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": _bool(env, "STRATA_SECURE_COOKIES", production),
        "REMEMBER_COOKIE_SECURE": _bool(env, "STRATA_SECURE_COOKIES", production),
        "REMEMBER_COOKIE_HTTPONLY": True,
        "REMEMBER_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_NAME": "strata_session",
        # Strict-Transport-Security max-age (browsers then use only https for a year); 0 sends none
        "HSTS_SECONDS": _int(env, "STRATA_HSTS_SECONDS", 31_536_000 if production else 0),
        # an admin log-in lasts this long without activity (sliding, refreshed on each request)
        "PERMANENT_SESSION_LIFETIME": timedelta(hours=_int(env, "STRATA_SESSION_HOURS", 8)),
        "SESSION_REFRESH_EACH_REQUEST": True,
        "WTF_CSRF_TIME_LIMIT": None,
        # failed log-ins per account (from addresses that are not its usual ones) and per client
        # address before each further attempt waits, 15 s doubling up to the window (accounts.services.logins)
        "LOGIN_MAX_ATTEMPTS": _int(env, "STRATA_LOGIN_MAX_ATTEMPTS", 5),
        "LOGIN_ADDRESS_MAX_ATTEMPTS": _int(env, "STRATA_LOGIN_ADDRESS_MAX_ATTEMPTS", 20),
        "LOGIN_WINDOW_SECONDS": _int(env, "STRATA_LOGIN_WINDOW_SECONDS", 900),
        "SMTP_URL": env.get("STRATA_SMTP_URL", ""),
        # staged frame uploads; must be shared by every app process (default: the instance folder)
        "FRAME_UPLOAD_DIR": env.get("STRATA_FRAME_UPLOAD_DIR") or str(Path(instance_path) / "frame_uploads"),
        # a staged upload not used for this long is removed (it may hold contact data)
        "STAGED_UPLOAD_HOURS": _int(env, "STRATA_STAGED_UPLOAD_HOURS", 24),
        "GRADUATE_MIN_CELL_COUNT": _int(env, "STRATA_GRADUATE_MIN_CELL_COUNT", 5),
        # how much of an uploaded .xlsx workbook is read before it is refused (core.spreadsheets.Limits);
        # the cell length applies to CSV files too
        "SHEET_MAX_UNPACKED_MB": _int(env, "STRATA_SHEET_MAX_UNPACKED_MB", 256),
        "SHEET_MAX_ROWS": _int(env, "STRATA_SHEET_MAX_ROWS", 1_048_576),
        "SHEET_MAX_CELLS": _int(env, "STRATA_SHEET_MAX_CELLS", 5_000_000),
        "SHEET_MAX_CELL_CHARS": _int(env, "STRATA_SHEET_MAX_CELL_CHARS", 32_767),
        "SHEET_MAX_SECONDS": _int(env, "STRATA_SHEET_MAX_SECONDS", 30),
    }
    if "SECRET_KEY" not in overrides:
        settings["SECRET_KEY"] = _secret_key(env, instance_path, production)
    if "ENCRYPTION_KEY" not in overrides:
        settings["ENCRYPTION_KEY"] = _encryption_key(env, instance_path, production)
    settings.update(overrides)
    if "DATABASE_URL" in overrides:
        settings["DATABASE_URL"] = normalise_database_url(str(overrides["DATABASE_URL"]))
    return settings
