"""Log-in attempts and their limits (OWASP ASVS 2.2.1: anti-automation that is not a lock-out).

Two limits, each a growing wait after a number of failed log-ins:

* per **client address** (IPv4 address, IPv6 /64 network), whatever the account: after
  ``address_max_attempts`` failures in a row, each further attempt from that address waits 15 s,
  then 30 s, 1 min, ... up to ``window_seconds``;
* per **account**, the same after ``max_attempts`` failures, but only for addresses that are not
  the account's usual ones (where it logged in successfully in the last 90 days). Someone
  hammering an account from elsewhere slows down every unfamiliar address, never the owner at
  their usual address.

A count is forgotten when, after its wait, another ``window_seconds`` pass without a failure.
The counters live in the database (``login_throttles``), so the limits hold across every app
process. Each attempt is counted *before* its password is checked, by one atomic statement (an
``INSERT ... ON CONFLICT DO UPDATE ... WHERE`` that only counts it when it need not wait), and
given back when the password was right: parallel attempts cannot all pass the check, on
PostgreSQL or SQLite.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import case, literal, or_, select, update
from sqlalchemy.orm import Session

from survey_app.accounts.models import LoginAddress, LoginThrottle, User
from survey_app.accounts.services import audit, users
from survey_app.core import db
from survey_app.core.models import utcnow

FIRST_WAIT_SECONDS = 15
USUAL_ADDRESS_DAYS = 90


@dataclass(frozen=True)
class LoginPolicy:
    max_attempts: int  # failures per account (from unfamiliar addresses) before the waits begin
    address_max_attempts: int  # failures per client address before the waits begin
    window_seconds: int  # the longest wait; a count is forgotten after its wait and this long without a failure

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LoginPolicy:
        return cls(config["LOGIN_MAX_ATTEMPTS"], config["LOGIN_ADDRESS_MAX_ATTEMPTS"], config["LOGIN_WINDOW_SECONDS"])


@dataclass(frozen=True)
class LoginResult:
    user: User | None  # the user when the password was right
    retry_after: int = 0  # seconds to wait when the attempt was refused before its password was checked


def wait_seconds(failures: int, allowed: int, window_seconds: int) -> int:
    """How long after the last failure the next attempt waits: nothing for the first ``allowed``
    failures, then 15 s, doubling with each failure, up to ``window_seconds``."""
    if failures < allowed:
        return 0
    return min(window_seconds, FIRST_WAIT_SECONDS * 2 ** min(failures - allowed, 20))


def client_address(remote_addr: str | None) -> str:
    """The address a limit counts: IPv4 as it is, IPv6 as its /64 network (one subscriber's)."""
    try:
        address = ipaddress.ip_address((remote_addr or "").strip())
    except ValueError:
        return "unknown"
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)


def _as_utc(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)  # SQLite keeps no zone


def _count(session: Session, key: str, allowed: int, window_seconds: int, now: datetime) -> bool:
    """Count one more failure under ``key`` unless the attempt must still wait, in one atomic
    statement; True when the attempt may go on (it has been counted). A count is forgotten when,
    after its wait, ``window_seconds`` more pass without a failure."""
    table = LoginThrottle.__table__
    failures, last = table.c.failures, table.c.last_failure_at

    def before(seconds: int) -> Any:
        return literal(now - timedelta(seconds=seconds), last.type)

    go_on, forget = [], []  # per count: the latest last failure that lets an attempt through / that is forgotten
    count = allowed
    while (wait := wait_seconds(count, allowed, window_seconds)) < window_seconds:
        go_on.append((failures == count, before(wait)))
        forget.append((failures == count, before(wait + window_seconds)))
        count += 1
    may_go_on = case(*go_on, else_=before(window_seconds)) if go_on else before(window_seconds)
    forgotten = case((failures < allowed, before(window_seconds)), *forget, else_=before(2 * window_seconds))
    statement = (
        db.insert(session, table)
        .values(key=key, failures=1, last_failure_at=now)
        .on_conflict_do_update(
            index_elements=[table.c.key],
            set_={"failures": case((last <= forgotten, 1), else_=failures + 1), "last_failure_at": now},
            where=or_(failures < allowed, last <= may_go_on),
        )
        .returning(failures)
    )
    return session.execute(statement).first() is not None


def _give_back(session: Session, key: str) -> None:
    """The attempt counted under ``key`` succeeded: it was no failure."""
    session.execute(update(LoginThrottle).where(LoginThrottle.key == key, LoginThrottle.failures > 0)
                    .values(failures=LoginThrottle.failures - 1))


def _retry_after(session: Session, key: str, allowed: int, window_seconds: int, now: datetime) -> int:
    row = session.get(LoginThrottle, key)
    if row is None:
        return 1
    waited = (now - _as_utc(row.last_failure_at)).total_seconds()
    return max(1, int(wait_seconds(row.failures, allowed, window_seconds) - waited + 0.999))


def _is_usual(session: Session, user: User | None, address: str, now: datetime) -> bool:
    if user is None:
        return False
    since = now - timedelta(days=USUAL_ADDRESS_DAYS)
    return session.scalar(select(LoginAddress.user_id).where(
        LoginAddress.user_id == user.id, LoginAddress.address == address, LoginAddress.last_login_at >= since)) is not None


def _remember(session: Session, user: User, address: str, now: datetime) -> None:
    table = LoginAddress.__table__
    session.execute(db.insert(session, table).values(user_id=user.id, address=address, last_login_at=now)
                    .on_conflict_do_update(index_elements=[table.c.user_id, table.c.address], set_={"last_login_at": now}))


def attempt(session: Session, email: str, password: str, remote_addr: str | None, policy: LoginPolicy, *,
            now: datetime | None = None) -> LoginResult:
    """Try to log in from ``remote_addr``; every attempt is audited. A refused attempt (a limit
    says wait) has ``retry_after`` seconds and its password was not checked."""
    now = now or utcnow()
    email = users.normalise_email(email)
    address = client_address(remote_addr)
    keys = [(f"address:{address}", policy.address_max_attempts)]  # counted first: the first write of the transaction
    refused = not _count(session, *keys[0], policy.window_seconds, now)
    if not refused:
        user = users.get_by_email(session, email)
        if not _is_usual(session, user, address, now):
            keys.append((f"account:{email}", policy.max_attempts))
            refused = not _count(session, *keys[1], policy.window_seconds, now)
    if refused:
        key, allowed = keys[-1]
        retry_after = _retry_after(session, key, allowed, policy.window_seconds, now)
        audit.record(session, "auth.login_throttled", actor_label=email, object_type="user", object_id=email,
                     details={"address": address, "limit": key.split(":", 1)[0], "retry_after": retry_after})
        return LoginResult(None, retry_after)
    user = users.authenticate(session, email, password)
    if user is None:
        audit.record(session, "auth.login_failed", actor_label=email, object_type="user", object_id=email, details={"address": address})
        return LoginResult(None)
    for key, _allowed in keys:
        _give_back(session, key)
    _remember(session, user, address, now)
    audit.record(session, "auth.login", actor=user, object_type="user", object_id=email, details={"address": address})
    return LoginResult(user)


def log_out(session: Session, user: User) -> None:
    """Log ``user`` out: every session of theirs ends on the server, not only this browser's cookie."""
    audit.record(session, "auth.logout", actor=user)
    users.end_sessions(session, user)
