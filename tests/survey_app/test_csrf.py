"""CSRF on every state-changing admin route (walked from ``app.url_map``): a logged-in admin's
POST without the form's token is refused with a readable 400 and changes nothing in the database."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask, url_for
from flask.testing import FlaskClient
from werkzeug.routing import IntegerConverter, Rule

from survey_app import schema
from survey_app.core import db

from . import admin_world
from .conftest import PASSWORD

STATE_CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# what a forged form might send: enough for each page to act if the token were not checked
FORGED = {"role": "admin", "display_name": "Forged", "is_active": "false", "password": "plum kettle orbit 41",
          "email": "forged@example.org", "name": "Forged", "title": "Forged", "code": "forged", "user_id": "1",
          "sample_size": "5", "seed": "1", "confirm_new": "true", "decision": "approve", "comment": "forged",
          "scopes": "surveys:read", "expires_in_days": "30", "status": "closed"}
REFUSED = "did not come from this site"


@pytest.fixture
def app_config(app_config: dict[str, Any]) -> dict[str, Any]:
    return {**app_config, "WTF_CSRF_ENABLED": True}


def _log_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
    assert token is not None
    assert client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token[1]}).status_code == 302
    return client


def _database(app: Flask) -> dict[str, list[str]]:
    """Every row of every table."""
    with db.engine(app).connect() as conn:
        return {t.name: sorted(repr(tuple(row)) for row in conn.execute(t.select())) for t in schema.metadata.sorted_tables}


def _url(app: Flask, rule: Rule, params: dict[str, Any]) -> str:
    def value(name: str) -> Any:
        if name in params:
            return params[name]
        return 1 if isinstance(rule._converters[name], IntegerConverter) else "x"

    with app.test_request_context():
        return url_for(rule.endpoint, **{name: value(name) for name in rule.arguments})


def test_every_state_changing_admin_route_refuses_a_post_without_the_token(app: Flask) -> None:
    world = admin_world.build_world(app)
    statistician = world.users["statistician"]
    params = {"project_id": world.project.id, "frame_id": world.frame.id, "draw_id": world.draw.id, "user_id": statistician.id, "level": 1}
    admin = _log_in(app, world.users["admin"].email)
    rules = [r for r in app.url_map.iter_rules() if (r.rule.startswith("/admin") or r.endpoint == "auth.logout") and r.methods & STATE_CHANGING]
    assert len(rules) >= 35
    before = _database(app)
    for rule in rules:
        url = _url(app, rule, params)
        for method in sorted(rule.methods & STATE_CHANGING):
            response = admin.open(url, method=method, data=FORGED, headers={"Accept": "text/html"})
            assert response.status_code == 400, f"{method} {url} ({rule.endpoint}): {response.status_code}"
            assert REFUSED in response.get_data(as_text=True), f"{method} {url}"
            assert _database(app) == before, f"{method} {url} changed the database"
    assert admin.get("/admin/").status_code == 200  # the refused log-out did not log out

    # the same request with the form's token goes through: the check above could see a change
    page = admin.get("/admin/users").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token is not None
    saved = admin.post(f"/admin/users/{statistician.id}", data={**FORGED, "password": "", "csrf_token": token[1]})
    assert saved.status_code == 302 and _database(app) != before


def test_a_refused_form_is_explained_in_the_users_language(app: Flask, make_user: Any) -> None:
    client = _log_in(app, make_user("admin").email)
    response = client.post("/admin/users?lang=zh_CN", data=FORGED, headers={"Accept": "text/html"})
    assert response.status_code == 400 and "并非来自本网站" in response.get_data(as_text=True)
    api = client.post("/admin/users?lang=en", data=FORGED, headers={"Accept": "application/json"})
    assert api.status_code == 400 and api.get_json()["error"] == "bad_request" and REFUSED in api.get_json()["message"]
