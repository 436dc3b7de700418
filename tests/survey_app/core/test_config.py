from __future__ import annotations

from pathlib import Path

import pytest

from survey_app import create_app
from survey_app.core.config import ConfigError, load_config, normalise_database_url


def test_defaults_use_sqlite_in_the_instance_folder(tmp_path: Path) -> None:
    settings = load_config(str(tmp_path), environ={})
    assert settings["DATABASE_URL"] == f"sqlite:///{tmp_path / 'strata.sqlite3'}"
    assert settings["BABEL_DEFAULT_LOCALE"] == "zh_CN"
    assert settings["MAX_CONTENT_LENGTH"] == 200 * 1024 * 1024
    assert settings["SESSION_COOKIE_HTTPONLY"] is True
    # a development secret is generated once per instance folder and reused by every process
    again = load_config(str(tmp_path), environ={})
    assert settings["SECRET_KEY"] == again["SECRET_KEY"] and len(settings["SECRET_KEY"]) == 64


def test_environment_overrides(tmp_path: Path) -> None:
    env = {
        "DATABASE_URL": "postgresql://postgres@127.0.0.1:5432/strata",
        "SECRET_KEY": "s3cret",
        "STRATA_MAX_UPLOAD_MB": "5",
        "STRATA_DEFAULT_LOCALE": "en",
        "STRATA_SECURE_COOKIES": "yes",
    }
    settings = load_config(str(tmp_path), environ=env)
    assert settings["DATABASE_URL"] == "postgresql+psycopg://postgres@127.0.0.1:5432/strata"
    assert settings["SECRET_KEY"] == "s3cret"
    assert settings["MAX_CONTENT_LENGTH"] == 5 * 1024 * 1024
    assert settings["BABEL_DEFAULT_LOCALE"] == "en"
    assert settings["SESSION_COOKIE_SECURE"] is True


def test_workbook_reading_limits_are_settings(tmp_path: Path) -> None:
    from survey_app.core.spreadsheets import Limits

    defaults = Limits.from_config(load_config(str(tmp_path), environ={}))
    assert (defaults.unpacked_bytes, defaults.rows, defaults.cells, defaults.cell_chars, defaults.seconds) == (
        256 << 20, 1_048_576, 5_000_000, 32_767, 30)
    env = {"STRATA_SHEET_MAX_UNPACKED_MB": "64", "STRATA_SHEET_MAX_ROWS": "1000", "STRATA_SHEET_MAX_CELLS": "9000",
           "STRATA_SHEET_MAX_CELL_CHARS": "100", "STRATA_SHEET_MAX_SECONDS": "5"}
    assert Limits.from_config(load_config(str(tmp_path), environ=env)) == Limits(64 << 20, 1000, 9000, 100, 5)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"STRATA_MAX_UPLOAD_MB": "lots"}, "STRATA_MAX_UPLOAD_MB must be a whole number"),
        ({"STRATA_DEFAULT_LOCALE": "fr"}, "STRATA_DEFAULT_LOCALE must be one of zh_CN, en"),
        ({"STRATA_SECURE_COOKIES": "maybe"}, "STRATA_SECURE_COOKIES must be true or false"),
        ({"STRATA_ENV": "production"}, "SECRET_KEY must be set"),
    ],
)
def test_bad_settings_name_the_variable(tmp_path: Path, env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(str(tmp_path), environ=env)


def test_postgres_urls_use_psycopg3() -> None:
    assert normalise_database_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("postgresql+psycopg://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_database_url("sqlite:///x.db") == "sqlite:///x.db"


def test_factory_reads_the_environment_when_called(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'a.db'}")
    monkeypatch.setenv("SECRET_KEY", "from-env")
    first = create_app()
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'b.db'}")
    second = create_app({"SECRET_KEY": "override"})
    assert first.config["DATABASE_URL"].endswith("a.db")
    assert second.config["DATABASE_URL"].endswith("b.db")
    assert (first.config["SECRET_KEY"], second.config["SECRET_KEY"]) == ("from-env", "override")


@pytest.mark.parametrize("proxies", [0, 1])
def test_forwarded_headers_are_trusted_only_from_configured_proxies(tmp_path: Path, proxies: int) -> None:
    """Behind nginx (STRATA_PROXIES=1) the client's address and https come from X-Forwarded-*; without a
    configured proxy a client cannot claim them."""
    from flask import request

    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}", "SECRET_KEY": "x", "PROXY_COUNT": proxies})

    @app.get("/_where")
    def where() -> dict[str, object]:
        return {"addr": request.remote_addr, "secure": request.is_secure}

    seen = app.test_client().get("/_where", headers={"X-Forwarded-For": "203.0.113.7", "X-Forwarded-Proto": "https"},
                                 environ_base={"REMOTE_ADDR": "127.0.0.1"}).get_json()
    assert seen == ({"addr": "203.0.113.7", "secure": True} if proxies else {"addr": "127.0.0.1", "secure": False})
