"""Audit log page (filter, export, read-only) and the users page."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select
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


def test_audit_export_keeps_formula_looking_log_in_names_as_text(app: Flask, client: FlaskClient, logged_in: Any) -> None:
    # anybody can type these at the log-in form; the failed attempts land in the admin's export
    typed = ["=cmd|'/c.calc'!a1@example.org", "+1@example.org", "-2+3@example.org"]
    stranger = app.test_client()
    for email in typed:
        assert login(stranger, email, "wrong password").status_code == 401
    logged_in(Role.ADMIN)
    text = client.get("/admin/audit/export.csv?action=auth.login_failed").data.decode("utf-8-sig")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert sorted(r["actor"] for r in rows) == sorted("'" + email for email in typed)
    assert sorted(r["object_id"] for r in rows) == sorted("'" + email for email in typed)
    assert all(r["id"].isdigit() for r in rows)


def test_audit_far_dates_and_pages_show_what_there_is(client: FlaskClient, logged_in: Any, make_user: Any, session: Session) -> None:
    make_user(Role.DESIGNER, "alice@example.org")
    logged_in(Role.ADMIN)
    everything = session.scalar(select(func.count(AuditEvent.id)))
    for query in ("until=9999-12-31", "since=0001-01-01&until=9999-12-31", "since=2000-01-01&until=9999-12-31"):
        page = client.get(f"/admin/audit?{query}")
        assert page.status_code == 200 and f"{everything} events" in page.get_data(as_text=True), query
    assert "0 events" in client.get("/admin/audit?since=9999-12-31").get_data(as_text=True)
    for number in ("2", "100000000000000000", "99999999999999999999"):  # past the last page: the last page
        page = client.get(f"/admin/audit?page={number}")
        assert page.status_code == 200 and "user.create" in page.get_data(as_text=True), number
    export = client.get("/admin/audit/export.csv?until=9999-12-31")
    assert export.status_code == 200
    rows = list(csv.DictReader(io.StringIO(export.data.decode("utf-8-sig"))))
    assert len(rows) == everything + 1  # and the export itself, recorded first
    assert rows[-1]["action"] == "audit.export" and export.data.endswith(b"\r\n")


EXPORT = ("/admin/audit", "/admin/audit/export.csv")


@pytest.mark.parametrize(
    ("query", "english", "chinese", "paths"),
    [
        pytest.param("since=yesterday", "is not a date", "不是有效日期", EXPORT, id="since-not-a-date"),
        pytest.param("until=2026-02-30", "is not a date", "不是有效日期", EXPORT, id="until-not-a-day"),
        pytest.param("since=2026-02-01&until=2026-01-01", "must not be before the start date", "不能早于开始日期", EXPORT, id="until-before-since"),
        pytest.param("actor=%00", "contains a control character", "含有控制字符", EXPORT, id="actor-nul"),
        pytest.param("object_id=a%00b", "contains a control character", "含有控制字符", EXPORT, id="object-id-nul"),
        pytest.param("actor=" + "x" * 255, "at most 254 characters", "最多 254 个字符", EXPORT, id="actor-too-long"),
        pytest.param("action=" + "x" * 81, "at most 80 characters", "最多 80 个字符", EXPORT, id="action-too-long"),
        pytest.param("page=abc", "is not a page number", "不是有效页码", EXPORT[:1], id="page-word"),  # the export has no pages
        pytest.param("page=0", "is not a page number", "不是有效页码", EXPORT[:1], id="page-zero"),
        pytest.param("page=-5", "is not a page number", "不是有效页码", EXPORT[:1], id="page-negative"),
    ],
)
def test_bad_audit_filters_are_422_in_the_users_language_and_export_nothing(
    client: FlaskClient, logged_in: Any, session: Session, query: str, english: str, chinese: str, paths: tuple[str, ...]
) -> None:
    logged_in(Role.ADMIN)
    for language, needle, title in (("en", english, "The audit filter is not valid."), ("zh-CN", chinese, "审计日志筛选条件无效。")):
        for path in paths:
            response = client.get(f"{path}?{query}", headers={"Accept-Language": language})
            page = response.get_data(as_text=True)
            assert response.status_code == 422 and response.mimetype == "text/html", (path, language)
            assert needle in page and title in page, (path, language)
    assert session.scalar(select(func.count(AuditEvent.id)).where(AuditEvent.action == "audit.export")) == 0


def test_huge_page_numbers_show_the_last_page_of_the_audit_log(client: FlaskClient, logged_in: Any) -> None:
    """Issue #20 (the class of finding 5): ``page=`` beyond any database integer gave a 500."""
    logged_in(Role.ADMIN)
    response = client.get("/admin/audit?page=99999999999999999999999")
    assert response.status_code == 200 and "auth.login" in response.get_data(as_text=True)


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
