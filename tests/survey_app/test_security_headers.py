"""Security headers on every admin page and API route (walked from ``app.url_map``), no inline
script anywhere that the Content-Security-Policy would have to allow, HSTS in production, and a
``Server`` header that names no server or version (``strata serve`` itself: test_multiprocess)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

import survey_app
from survey_app.core.config import load_config
from survey_app.core.security import CONTENT_SECURITY_POLICY

from . import admin_world, api_world

HSTS = 31_536_000
# <script> elements that run (a data block such as type="application/json" does not) and
# event-handler attributes (onclick=...) or javascript: URLs: all refused by the policy.
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE)
INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=|javascript:", re.IGNORECASE)


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "HSTS_SECONDS": HSTS}  # as in production (STRATA_ENV=production)


def _check(response: Any, what: str) -> None:
    headers = response.headers
    csp = headers.get("Content-Security-Policy", "")
    script_src = next((d for d in csp.split(";") if d.strip().startswith("script-src")), "")
    assert script_src and "'unsafe-inline'" not in script_src and "'unsafe-eval'" not in script_src, f"{what}: {csp!r}"
    for directive in ("default-src 'self'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"):
        assert directive in csp, f"{what}: {directive} missing"
    assert headers.get("X-Content-Type-Options") == "nosniff", what
    assert headers.get("X-Frame-Options") == "DENY", what
    assert headers.get("Referrer-Policy") == "same-origin", what
    assert headers.get("Strict-Transport-Security") == f"max-age={HSTS}; includeSubDomains", what
    assert headers.get("Cache-Control") == "no-store", f"{what}: Cache-Control {headers.get('Cache-Control')!r}"
    assert headers.get("Server") == "Strata", what
    if response.mimetype == "text/html":
        page = response.get_data(as_text=True)
        assert not INLINE_SCRIPT.search(page) and not INLINE_HANDLER.search(page), f"{what}: inline script"


def _url(app: Flask, rule: Rule, params: dict[str, Any]) -> str:
    def value(name: str) -> Any:
        if name in params:
            return params[name]
        return 1 if isinstance(rule._converters[name], IntegerConverter) else "x"

    with app.test_request_context():
        return url_for(rule.endpoint, **{name: value(name) for name in rule.arguments})


def _rules(app: Flask, prefix: str) -> list[Rule]:
    return [r for r in app.url_map.iter_rules() if r.rule.startswith(prefix) and "GET" in r.methods]


def test_every_admin_page_has_the_security_headers(app: Flask) -> None:
    world = admin_world.build_world(app)
    params = {"project_id": world.project.id, "frame_id": world.frame.id, "draw_id": world.draw.id,
              "user_id": world.users["owner"].id, "level": 1, "kind": "svg", "chart": "outcomes"}
    admin, anonymous = world.client_for(app, "admin"), app.test_client()
    rules = _rules(app, "/admin")
    assert len(rules) >= 40
    statuses = []
    for rule in rules:
        url = _url(app, rule, params)
        response = admin.get(url)
        statuses.append(response.status_code)
        _check(response, f"GET {url} as admin ({response.status_code})")
        _check(anonymous.get(url), f"GET {url} anonymously")
    assert statuses.count(200) >= 25  # the pages themselves, not only their error pages


def test_every_api_route_has_the_security_headers(app: Flask) -> None:
    world = api_world.build(app)
    params = {"survey_id": world.project_id, "number": 1, "draw_id": world.draw_id, "scheme_id": 1, "cohort": 2026}
    client = app.test_client()
    rules = _rules(app, "/api/")
    assert len(rules) >= 15
    with_data = 0
    for rule in rules:
        url = _url(app, rule, params)
        response = client.get(url, headers=api_world.bearer(world.token))
        with_data += response.status_code == 200
        _check(response, f"GET {url} ({response.status_code})")
        _check(client.get(url), f"GET {url} without a token")
    assert with_data >= 5


def test_public_pages_and_static_files(client: FlaskClient) -> None:
    for url in ("/", "/login", "/healthz", "/inspections/", "/no-such-page"):
        _check(client.get(url), url)
    static = client.get("/static/respond.js")
    assert static.status_code == 200 and "no-store" not in static.headers.get("Cache-Control", "")  # cached as before
    assert static.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert static.headers["X-Content-Type-Options"] == "nosniff"


def test_hsts_is_on_in_production_only(app_config: dict[str, Any], tmp_path: Any) -> None:
    production = load_config(str(tmp_path), environ={"STRATA_ENV": "production", "SECRET_KEY": "x", "STRATA_ENCRYPTION_KEY": "k"})
    assert production["HSTS_SECONDS"] == HSTS
    assert load_config(str(tmp_path), environ={"SECRET_KEY": "x"})["HSTS_SECONDS"] == 0
    assert load_config(str(tmp_path), environ={"STRATA_ENV": "production", "SECRET_KEY": "x", "STRATA_ENCRYPTION_KEY": "k", "STRATA_HSTS_SECONDS": "600"})["HSTS_SECONDS"] == 600


def test_development_sends_no_hsts(app_config: dict[str, Any]) -> None:
    from survey_app import create_app
    from survey_app.core import db

    development = create_app({**app_config, "HSTS_SECONDS": 0})
    try:
        response = development.test_client().get("/login")
        assert "Strict-Transport-Security" not in response.headers
        assert response.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    finally:
        db.engine(development).dispose()


def test_no_template_has_an_inline_script_or_event_handler(app: Flask) -> None:
    package = str(Path(survey_app.__file__).parent)
    checked = 0
    for name in app.jinja_env.list_templates(extensions=["html"]):
        source, filename, _ = app.jinja_env.loader.get_source(app.jinja_env, name)  # type: ignore[union-attr]
        if not (filename or "").startswith(package):
            continue  # flask-smorest's Swagger UI / ReDoc pages, which are not served (below)
        checked += 1
        assert not INLINE_SCRIPT.search(source), f"{name}: an inline <script>; move it to a file in core/static"
        assert not INLINE_HANDLER.search(source), f"{name}: an inline event handler; use addEventListener in a static file"
    assert checked > 50
    assert {r.endpoint for r in app.url_map.iter_rules() if r.endpoint.startswith("api-docs.")} == {"api-docs.openapi_json"}
