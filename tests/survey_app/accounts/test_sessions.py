"""Log-in sessions end on the server: a copy of the cookie is worthless after log-out, a password
reset, a role change or a deactivation."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from survey_app.accounts.models import Role, User
from survey_app.accounts.services import users

from ..conftest import PASSWORD, login

COOKIE = "strata_session"


def _logged_in_client(app: Flask, email: str, password: str = PASSWORD) -> FlaskClient:
    client = app.test_client()
    assert login(client, email, password).status_code == 302
    assert client.get("/admin/").status_code == 200
    return client


def _replay(app: Flask, client: FlaskClient) -> FlaskClient:
    """Another browser holding a copy of ``client``'s session cookie (as a thief would)."""
    cookie = client.get_cookie(COOKIE)
    assert cookie is not None
    thief = app.test_client()
    thief.set_cookie(COOKIE, cookie.value)
    return thief


def _is_logged_out(client: FlaskClient) -> bool:
    response = client.get("/admin/")
    return response.status_code == 302 and "/login" in response.headers["Location"]


def test_a_copied_cookie_stops_working_at_log_out(app: Flask, make_user: Any) -> None:
    user = make_user(Role.DESIGNER)
    client = _logged_in_client(app, user.email)
    thief = _replay(app, client)
    other_device = _logged_in_client(app, user.email)
    assert thief.get("/admin/").status_code == 200  # a copy works while the session lives
    assert client.post("/logout").status_code == 302
    assert _is_logged_out(client)
    assert _is_logged_out(thief)
    assert _is_logged_out(other_device)  # log-out ends the user's sessions everywhere
    assert login(app.test_client(), user.email).status_code == 302  # and they can log in again


def test_a_password_reset_ends_the_users_sessions(app: Flask, make_user: Any) -> None:
    user = make_user(Role.DESIGNER)
    admin = _logged_in_client(app, make_user(Role.ADMIN).email)
    victim = _logged_in_client(app, user.email)
    thief = _replay(app, victim)
    response = admin.post(f"/admin/users/{user.id}", data={"role": "designer", "display_name": "d", "is_active": "true", "password": "a fresh passphrase 7"})
    assert response.status_code == 302
    assert _is_logged_out(thief) and _is_logged_out(victim)
    assert login(app.test_client(), user.email).status_code == 401  # the old password is gone too
    assert login(app.test_client(), user.email, "a fresh passphrase 7").status_code == 302
    assert admin.get("/admin/users").status_code == 200  # the admin's own session is untouched


def test_a_role_change_ends_the_users_sessions_a_new_name_does_not(app: Flask, make_user: Any) -> None:
    user = make_user(Role.DESIGNER)
    admin = _logged_in_client(app, make_user(Role.ADMIN).email)
    client = _logged_in_client(app, user.email)
    admin.post(f"/admin/users/{user.id}", data={"role": "designer", "display_name": "Renamed", "is_active": "true"})
    assert client.get("/admin/").status_code == 200
    admin.post(f"/admin/users/{user.id}", data={"role": "reviewer", "display_name": "Renamed", "is_active": "true"})
    assert _is_logged_out(client)
    again = _logged_in_client(app, user.email)
    assert "Reviewer" in again.get("/admin/").get_data(as_text=True)


def test_a_deactivated_session_stays_dead_after_reactivation(app: Flask, make_user: Any) -> None:
    user = make_user(Role.DESIGNER)
    admin = _logged_in_client(app, make_user(Role.ADMIN).email)
    client = _logged_in_client(app, user.email)
    admin.post(f"/admin/users/{user.id}", data={"role": "designer", "display_name": "d", "is_active": "false"})
    assert _is_logged_out(client)
    admin.post(f"/admin/users/{user.id}", data={"role": "designer", "display_name": "d", "is_active": "true"})
    assert _is_logged_out(client)
    assert login(app.test_client(), user.email).status_code == 302


def test_an_admin_who_resets_their_own_password_stays_logged_in_here_only(app: Flask, make_user: Any) -> None:
    me = make_user(Role.ADMIN)
    make_user(Role.ADMIN, "second-admin@example.org")
    client = _logged_in_client(app, me.email)
    elsewhere = _logged_in_client(app, me.email)
    before = _replay(app, client)
    response = client.post(f"/admin/users/{me.id}", data={"role": "admin", "display_name": "Me", "is_active": "true", "password": "my own new passphrase"})
    assert response.status_code == 302
    assert client.get("/admin/users").status_code == 200
    assert _is_logged_out(before) and _is_logged_out(elsewhere)
    demoted = client.post(f"/admin/users/{me.id}", data={"role": "designer", "display_name": "Me", "is_active": "true"})
    assert demoted.status_code == 302 and client.get("/admin/users").status_code == 403  # the new role, at once


def test_session_ids_name_the_user_and_the_version(make_user: Any, session: Session) -> None:
    user = make_user(Role.DESIGNER)
    stored = session.get(User, user.id)
    assert stored is not None and stored.get_id() == f"{user.id}:0"
    assert users.session_user(session, f"{user.id}:0") is stored
    for stale in (str(user.id), f"{user.id}:1", f"{user.id}:", ":0", "x:0", f"{user.id}:0:0", f"{user.id}:٠", "99999:0", ""):
        assert users.session_user(session, stale) is None, stale
    users.end_sessions(session, stored)
    session.commit()
    assert stored.session_version == 1 and users.session_user(session, f"{user.id}:0") is None
