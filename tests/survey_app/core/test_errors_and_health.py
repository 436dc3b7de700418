from __future__ import annotations

from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from survey_app import create_app
from survey_app.core.errors import Conflict


def test_healthz_reports_the_database(client: FlaskClient) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "ok" and body["database"] == "ok"
    assert body["dialect"] in {"sqlite", "postgresql"}


def test_healthz_is_503_when_the_database_is_unreachable(tmp_path: Path) -> None:
    app = create_app({"DATABASE_URL": f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}", "SECRET_KEY": "k"})
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["error"] == "unavailable" and "database" in body["errors"]


def test_api_errors_have_one_json_shape(app: Flask, client: FlaskClient) -> None:
    @app.get("/api/v1/_test/conflict")
    def conflict() -> str:
        raise Conflict("Already drawn.", {"sample": ["a draw exists"]})

    @app.get("/api/v1/_test/crash")
    def crash() -> str:
        raise RuntimeError("boom")

    assert client.get("/api/v1/no-such-thing").get_json() == {
        "error": "not_found",
        "message": "The page or resource was not found.",
    }
    response = client.get("/api/v1/_test/conflict")
    assert response.status_code == 409
    assert response.get_json() == {"error": "conflict", "message": "Already drawn.", "errors": {"sample": ["a draw exists"]}}
    response = client.post("/api/v1/_test/conflict")
    assert response.status_code == 405 and response.get_json()["error"] == "method_not_allowed"
    assert "GET" in response.headers["Allow"]
    response = client.get("/api/v1/_test/crash")
    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_error"
    assert "boom" not in response.get_data(as_text=True)


def test_browsers_get_html_error_pages(client: FlaskClient) -> None:
    response = client.get("/no-such-page", headers={"Accept": "text/html"})
    assert response.status_code == 404
    assert response.mimetype == "text/html"
    assert "The page or resource was not found." in response.get_data(as_text=True)
    zh = client.get("/no-such-page?lang=zh_CN", headers={"Accept": "text/html"})
    assert "找不到该页面或资源。" in zh.get_data(as_text=True)


def test_security_headers(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "DENY"
