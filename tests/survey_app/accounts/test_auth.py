from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app import create_app
from survey_app.accounts.models import AuditEvent, Role, User

from ..conftest import PASSWORD, login


def test_login_logout_round_trip(client: FlaskClient, make_user: Any, session: Session) -> None:
    user = make_user(Role.DESIGNER)
    assert client.get("/admin/").status_code == 302  # to the login page
    response = login(client, user.email)
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200 and "Survey projects" in page.get_data(as_text=True)
    assert client.get("/logout").status_code == 405  # logging out changes state: POST only
    assert client.post("/logout").status_code == 302
    assert client.get("/admin/").status_code == 302
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.id)).all()
    assert actions == ["user.create", "auth.login", "auth.logout"]
    assert session.get(User, user.id).last_login_at is not None  # type: ignore[union-attr]


def test_wrong_password_is_401_and_audited(client: FlaskClient, make_user: Any, session: Session) -> None:
    user = make_user()
    response = login(client, user.email, "wrong password!")
    assert response.status_code == 401
    assert "Wrong e-mail or password." in response.get_data(as_text=True)
    assert login(client, "nobody@example.org").status_code == 401
    failures = session.scalars(select(AuditEvent.object_id).where(AuditEvent.action == "auth.login_failed")).all()
    assert failures == [user.email, "nobody@example.org"]


def test_open_redirects_are_refused(client: FlaskClient, make_user: Any) -> None:
    user = make_user()
    response = client.post("/login?next=https://evil.example/", data={"email": user.email, "password": PASSWORD})
    assert response.headers["Location"] == "/admin/"


@pytest.mark.parametrize("target", [
    "/admin/\nX", "/admin/\r\nSet-Cookie: a=b", "/admin/\x00", "/admin/\x7f", "/\\evil.example", "/\\/evil.example",
    "//evil.example/", "https://evil.example/", "javascript:alert(1)", "admin/", "",
])
def test_next_must_be_a_path_on_this_site(client: FlaskClient, make_user: Any, target: str) -> None:
    user = make_user()
    response = client.post("/login", query_string={"next": target}, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200  # logged in all the same


def test_next_keeps_a_path_and_query_on_this_site(client: FlaskClient, make_user: Any) -> None:
    user = make_user()
    response = client.post("/login", query_string={"next": "/admin/registry?status=active"}, data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 302 and response.headers["Location"] == "/admin/registry?status=active"


def test_passwords_are_stored_hashed(make_user: Any, session: Session) -> None:
    user = make_user()
    stored = session.get(User, user.id).password_hash  # type: ignore[union-attr]
    assert PASSWORD not in stored and stored.startswith("scrypt:")


def test_forms_need_a_csrf_token(app_config: dict[str, Any], make_user: Any) -> None:
    app = create_app(app_config | {"WTF_CSRF_ENABLED": True})
    client = app.test_client()
    user = make_user()
    response = client.post("/login", data={"email": user.email, "password": PASSWORD})
    assert response.status_code == 400
    page = client.get("/login").get_data(as_text=True)
    token = page.split('name="csrf_token" type="hidden" value="')[1].split('"')[0]
    response = client.post("/login", data={"email": user.email, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 302
