"""Audit log page (filter, export, read-only) and the users page."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app.accounts.models import AuditEvent, AuditLogReadOnly, Role, User

from ..conftest import PASSWORD, login


def test_audit_filter_and_csv_export(client: FlaskClient, logged_in: Any, make_user: Any, session: Session) -> None:
    make_user(Role.DESIGNER, "alice@example.org")
    logged_in(Role.ADMIN)
    page = client.get("/admin/audit").get_data(as_text=True)
    assert "auth.login" in page and "user.create" in page
    filtered = client.get("/admin/audit?action=auth.login&actor=admin@").get_data(as_text=True)
    assert "1 events" in filtered
    by_object = client.get("/admin/audit?object_type=user&action=user.create").get_data(as_text=True)
    assert "2 events" in by_object and "alice@example.org" in by_object
    none = client.get("/admin/audit?since=2000-01-01&until=2000-01-02").get_data(as_text=True)
    assert "0 events" in none
    bad = client.get("/admin/audit?since=yesterday")
    assert bad.status_code == 422 and "is not a date" in bad.get_data(as_text=True)
    export = client.get("/admin/audit/export.csv?action=user.create")
    assert export.status_code == 200 and export.mimetype == "text/csv"
    text = export.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert {r["action"] for r in rows} == {"user.create"} and len(rows) == 2
    assert any('"email": "alice@example.org"' in r["after"] for r in rows)
    assert session.scalars(select(AuditEvent).where(AuditEvent.action == "audit.export")).one().details == {"action": "user.create"}


def test_audit_log_cannot_be_changed(session: Session, make_user: Any) -> None:
    make_user(Role.ADMIN)
    event = session.scalars(select(AuditEvent)).first()
    assert event is not None
    event.action = "forged"
    with pytest.raises(AuditLogReadOnly):
        session.flush()
    session.rollback()
    session.delete(session.scalars(select(AuditEvent)).first())
    with pytest.raises(AuditLogReadOnly):
        session.flush()


def test_admin_creates_changes_and_deactivates_users(app: Flask, client: FlaskClient, logged_in: Any, session: Session) -> None:
    logged_in(Role.ADMIN)
    created = client.post("/admin/users", data={"email": "New.Person@Example.org", "display_name": "New Person", "role": "reviewer", "password": "long enough pw"})
    assert created.status_code == 302
    user = session.scalars(select(User).where(User.email == "new.person@example.org")).one()
    assert user.role == Role.REVIEWER
    other = app.test_client()
    assert login(other, user.email, "long enough pw").status_code == 302
    changed = client.post(f"/admin/users/{user.id}", data={"role": "designer", "display_name": "Renamed", "is_active": "true"})
    assert changed.status_code == 302
    session.expire_all()
    assert session.get(User, user.id).role == Role.DESIGNER  # type: ignore[union-attr]
    client.post(f"/admin/users/{user.id}", data={"role": "designer", "display_name": "Renamed", "is_active": "false"})
    assert other.get("/admin/").status_code == 302  # a deactivated user's session ends
    assert login(app.test_client(), user.email, "long enough pw").status_code == 401
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "user.update").order_by(AuditEvent.id)).first()
    assert event is not None and event.before["role"] == "reviewer" and event.after["role"] == "designer"
    assert "password_hash" not in event.after


def test_user_form_errors(client: FlaskClient, logged_in: Any, session: Session) -> None:
    admin = logged_in(Role.ADMIN)
    response = client.post("/admin/users", data={"email": "not-an-email", "role": "wizard", "password": "short"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "is not an e-mail address" in page and "at least 10 characters" in page and "wizard" in page
    taken = client.post("/admin/users", data={"email": admin.email, "role": "designer", "password": PASSWORD})
    assert taken.status_code == 409
    last = client.post(f"/admin/users/{admin.id}", data={"role": "designer", "display_name": "x", "is_active": "true"})
    assert last.status_code == 409 and "last active administrator" in last.get_data(as_text=True)
    assert client.post("/admin/users/99999", data={}).status_code == 404
    assert session.get(User, admin.id).role == Role.ADMIN  # type: ignore[union-attr]


def test_non_admins_cannot_manage_users(client: FlaskClient, logged_in: Any) -> None:
    logged_in(Role.DESIGNER)
    assert client.post("/admin/users", data={"email": "x@example.org", "role": "admin", "password": PASSWORD}).status_code == 403
    assert client.get("/admin/audit").status_code == 403


WEAK_PASSWORDS = ["password12", "aaaaaaaaaa", "1234567890", "qwertyuiop", "iloveyou123", "Password123!", "weakling@example.org", "weakling2026"]


@pytest.mark.parametrize("password", WEAK_PASSWORDS)
def test_common_and_weak_passwords_are_refused_at_creation(client: FlaskClient, logged_in: Any, session: Session, password: str) -> None:
    logged_in(Role.ADMIN)
    response = client.post("/admin/users", data={"email": "weakling@example.org", "role": "designer", "password": password})
    assert response.status_code == 422
    assert "is too easy to guess" in response.get_data(as_text=True)
    assert session.scalars(select(User).where(User.email == "weakling@example.org")).first() is None


def test_weak_password_message_is_in_the_users_language(client: FlaskClient, logged_in: Any) -> None:
    logged_in(Role.ADMIN)
    response = client.post("/admin/users?lang=zh_CN", data={"email": "weakling@example.org", "role": "designer", "password": "password12"})
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert "容易被猜中" in page and "未能创建用户" in page


def test_weak_passwords_are_refused_at_a_password_reset(app: Flask, client: FlaskClient, logged_in: Any, make_user: Any, session: Session) -> None:
    logged_in(Role.ADMIN)
    user = make_user(Role.DESIGNER)
    before = session.get(User, user.id).password_hash  # type: ignore[union-attr]
    for password in ("password12", "aaaaaaaaaa", "designer@example.org"):
        response = client.post(f"/admin/users/{user.id}", data={"role": "reviewer", "display_name": "Renamed", "is_active": "true", "password": password})
        assert response.status_code == 422, password
        assert "is too easy to guess" in response.get_data(as_text=True)
    session.expire_all()
    unchanged = session.get(User, user.id)
    assert unchanged is not None and unchanged.password_hash == before
    assert unchanged.role == Role.DESIGNER and unchanged.display_name != "Renamed"  # nothing of the form was saved
    assert login(app.test_client(), user.email).status_code == 302
    good = client.post(f"/admin/users/{user.id}", data={"role": "designer", "display_name": "d", "is_active": "true", "password": "plum kettle orbit 41"})
    assert good.status_code == 302 and login(app.test_client(), user.email, "plum kettle orbit 41").status_code == 302
