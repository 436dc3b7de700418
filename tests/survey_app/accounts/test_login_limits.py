"""Log-in limits: a growing wait per account (from unfamiliar addresses) and per client address,
atomic under parallel attempts, and never a way to lock the owner out of their account."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from survey_app import create_app
from survey_app.accounts.models import AuditEvent, Role
from survey_app.accounts.services import logins
from survey_app.core import db
from survey_app.core.models import utcnow

from ..conftest import PASSWORD

OWNER_HOME = "198.51.100.7"
ATTACKER = "203.0.113.9"
WRONG = "not the password 1"


def _login(client: FlaskClient, email: str, password: str, address: str, **kwargs: Any) -> Any:
    return client.post("/login", data={"email": email, "password": password}, environ_base={"REMOTE_ADDR": address}, **kwargs)


def _in_parallel(app: Flask, attempts: list[tuple[str, str, str]]) -> Counter[int]:
    """Send the attempts ``(email, password, address)`` at once, each from its own client (and so its
    own request and database session); the statuses."""
    barrier = threading.Barrier(len(attempts))
    statuses: list[int] = []
    errors: list[BaseException] = []

    def run(email: str, password: str, address: str) -> None:
        client = app.test_client()
        try:
            barrier.wait(timeout=30)
            statuses.append(_login(client, email, password, address).status_code)
        except BaseException as exc:  # reported below, not lost in the thread
            errors.append(exc)

    threads = [threading.Thread(target=run, args=a) for a in attempts]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == [] and len(statuses) == len(attempts)
    return Counter(statuses)


def test_parallel_wrong_attempts_on_one_account_are_checked_at_most_the_limit(app: Flask, make_user: Any) -> None:
    user = make_user()
    statuses = _in_parallel(app, [(user.email, WRONG, ATTACKER)] * 20)
    assert statuses == {401: app.config["LOGIN_MAX_ATTEMPTS"], 429: 20 - app.config["LOGIN_MAX_ATTEMPTS"]}


def test_parallel_attempts_from_many_addresses_share_the_accounts_limit(app: Flask, make_user: Any) -> None:
    user = make_user()
    statuses = _in_parallel(app, [(user.email, WRONG, f"203.0.113.{i}") for i in range(1, 21)])
    assert statuses == {401: app.config["LOGIN_MAX_ATTEMPTS"], 429: 20 - app.config["LOGIN_MAX_ATTEMPTS"]}


def test_parallel_attempts_on_many_accounts_share_the_addresss_limit(app: Flask) -> None:
    limit = app.config["LOGIN_ADDRESS_MAX_ATTEMPTS"]
    statuses = _in_parallel(app, [(f"guess{i}@example.org", WRONG, ATTACKER) for i in range(limit + 8)])
    assert statuses == {401: limit, 429: 8}


def test_the_owner_logs_in_from_a_usual_address_while_the_account_is_hammered(app: Flask, make_user: Any, session: Session) -> None:
    user = make_user()
    owner = app.test_client()
    assert _login(owner, user.email, PASSWORD, OWNER_HOME).status_code == 302
    owner.post("/logout")
    attacker = app.test_client()
    statuses = Counter(_login(attacker, user.email, WRONG, f"203.0.113.{i % 3}").status_code for i in range(15))
    assert statuses == {401: app.config["LOGIN_MAX_ATTEMPTS"], 429: 15 - app.config["LOGIN_MAX_ATTEMPTS"]}
    assert _login(attacker, user.email, PASSWORD, ATTACKER).status_code == 429  # even the right password waits, elsewhere
    assert _login(app.test_client(), user.email, WRONG, OWNER_HOME).status_code == 401  # the owner's typo is only a typo
    assert _login(owner, user.email, PASSWORD, OWNER_HOME).status_code == 302
    assert owner.get("/admin/").status_code == 200
    throttled = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_throttled")).all()
    assert len(throttled) == 11 and {e.details["limit"] for e in throttled} == {"account"}  # type: ignore[index]


def test_one_address_is_slowed_down_on_every_account_others_are_not(app: Flask, make_user: Any) -> None:
    user = make_user()
    limit = app.config["LOGIN_ADDRESS_MAX_ATTEMPTS"]
    client = app.test_client()
    for i in range(limit):
        assert _login(client, f"guess{i}@example.org", WRONG, ATTACKER).status_code == 401
    assert _login(client, "one-more@example.org", WRONG, ATTACKER).status_code == 429
    assert _login(client, user.email, PASSWORD, ATTACKER).status_code == 429
    assert _login(client, user.email, PASSWORD, "192.0.2.44").status_code == 302


def test_a_refused_attempt_says_how_long_to_wait_in_the_users_language(app: Flask, make_user: Any, session: Session) -> None:
    user = make_user()
    client = app.test_client()
    for _ in range(app.config["LOGIN_MAX_ATTEMPTS"]):
        _login(client, user.email, WRONG, ATTACKER)
    refused = _login(client, user.email, PASSWORD, ATTACKER, query_string={"lang": "zh_CN"})
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= logins.FIRST_WAIT_SECONDS
    assert "登录失败次数过多" in refused.get_data(as_text=True)
    english = _login(client, user.email, PASSWORD, ATTACKER, query_string={"lang": "en"})
    assert "Too many failed log-ins. Please try again in" in english.get_data(as_text=True)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "auth.login_throttled")).first()
    assert event is not None and event.details == {"address": ATTACKER, "limit": "account", "retry_after": int(refused.headers["Retry-After"])}


def test_waits_grow_and_failures_are_forgotten(app: Flask, make_user: Any) -> None:
    user = make_user()
    policy = logins.LoginPolicy(max_attempts=3, address_max_attempts=100, window_seconds=600)
    now = utcnow()

    def attempt(at: Any, password: str = WRONG) -> logins.LoginResult:
        with db.session_factory(app)() as s:
            result = logins.attempt(s, user.email, password, ATTACKER, policy, now=at)
            s.commit()
            return result

    for _ in range(3):
        assert attempt(now).retry_after == 0
    waits = []
    for _ in range(8):
        refused = attempt(now)
        assert refused.user is None and refused.retry_after > 0
        waits.append(refused.retry_after)
        now += timedelta(seconds=refused.retry_after)
        assert attempt(now).retry_after == 0  # checked (and wrong) once the wait is over
    assert waits == [15, 30, 60, 120, 240, 480, 600, 600]
    assert attempt(now + timedelta(seconds=599)).retry_after == 1
    assert attempt(now + timedelta(seconds=600)).retry_after == 0  # checked, and the wait stays at its longest
    now += timedelta(seconds=600)
    assert attempt(now).retry_after == 600
    later = now + timedelta(seconds=600 + 600)  # the wait and then a quiet window: forgotten
    assert [attempt(later).retry_after for _ in range(4)] == [0, 0, 0, 15]
    assert attempt(later + timedelta(seconds=15), PASSWORD).user is not None


def test_right_passwords_are_not_failures(app: Flask, make_user: Any) -> None:
    user = make_user()
    policy = logins.LoginPolicy(max_attempts=2, address_max_attempts=2, window_seconds=600)
    with db.session_factory(app)() as s:
        for _ in range(5):
            assert logins.attempt(s, user.email, PASSWORD, ATTACKER, policy).user is not None
            s.commit()
        assert logins.attempt(s, user.email, WRONG, ATTACKER, policy).retry_after == 0
        assert logins.attempt(s, user.email, PASSWORD, ATTACKER, policy).user is not None
        s.commit()


def test_behind_a_proxy_the_forwarded_address_counts(app_config: dict[str, Any], make_user: Any) -> None:
    app = create_app({**app_config, "PROXY_COUNT": 1})  # STRATA_PROXIES=1 (nginx in front)
    try:
        user = make_user()
        client = app.test_client()
        limit = app.config["LOGIN_ADDRESS_MAX_ATTEMPTS"]
        for i in range(limit):
            response = _login(client, f"guess{i}@example.org", WRONG, "127.0.0.1", headers={"X-Forwarded-For": ATTACKER})
            assert response.status_code == 401
        assert _login(client, "x@example.org", WRONG, "127.0.0.1", headers={"X-Forwarded-For": ATTACKER}).status_code == 429
        assert _login(client, user.email, PASSWORD, "127.0.0.1", headers={"X-Forwarded-For": OWNER_HOME}).status_code == 302
    finally:
        db.engine(app).dispose()


@pytest.mark.parametrize(("remote", "counted"), [
    ("203.0.113.9", "203.0.113.9"),
    ("2001:db8:1:2:aaaa:bbbb:cccc:dddd", "2001:db8:1:2::/64"),
    ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
    ("::ffff:198.51.100.7", "198.51.100.7"),
    ("", "unknown"),
    (None, "unknown"),
    ("not an address", "unknown"),
])
def test_client_addresses_are_counted_by_subscriber(remote: str | None, counted: str) -> None:
    assert logins.client_address(remote) == counted


def test_deactivated_users_cannot_log_in_even_from_a_usual_address(app: Flask, make_user: Any, session: Session) -> None:
    user = make_user(Role.DESIGNER)
    assert _login(app.test_client(), user.email, PASSWORD, OWNER_HOME).status_code == 302
    stored = session.get(type(user), user.id)
    assert stored is not None
    stored.is_active = False
    session.commit()
    assert _login(app.test_client(), user.email, PASSWORD, OWNER_HOME).status_code == 401
