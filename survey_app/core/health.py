"""Liveness and database reachability."""

from __future__ import annotations

import time

from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session


def check(session: Session) -> dict[str, object]:
    started = time.perf_counter()
    try:
        session.execute(text("SELECT 1")).scalar_one()
    except SQLAlchemyError as exc:
        return {"status": "error", "database": "unreachable", "detail": type(exc).__name__}
    return {
        "status": "ok",
        "database": "ok",
        "dialect": session.get_bind().dialect.name,
        "latency_ms": round((time.perf_counter() - started) * 1000, 2),
    }
