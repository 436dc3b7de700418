"""Engine and the per-request session.

One engine per application (kept in ``app.extensions``), one session per request: views get it
with :func:`session`, call a service, and commit once at the end of a write. At teardown the
session is rolled back if anything is left uncommitted (an error) and closed.
"""

from __future__ import annotations

import select
from typing import Any

from flask import Flask, current_app, g
from sqlalchemy import Connection, Engine, Table, create_engine, event, exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, sessionmaker

_EXT = "strata_db"


def make_engine(url: str, *, pool_size: int = 5, echo: bool = False) -> Engine:
    """Create an engine with the settings Strata needs on SQLite and PostgreSQL."""
    kwargs: dict[str, Any] = {"echo": echo, "future": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": 30, "check_same_thread": False}
    else:
        kwargs.update(pool_size=pool_size, max_overflow=pool_size * 2)
    engine = create_engine(url, **kwargs)
    if engine.dialect.name == "postgresql":
        event.listen(engine, "checkout", _check_alive)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

    return engine


def _check_alive(dbapi_connection: Any, _record: Any, _proxy: Any) -> None:
    """Discard a pooled PostgreSQL connection that the server has closed (a restart, an idle timeout,
    ``pg_terminate_backend``) before a request uses it; the pool then connects again.

    An idle connection has nothing to read: if its socket is readable, the server has sent its
    farewell (a FATAL message or EOF). This costs one ``poll`` instead of the ``SELECT 1`` round trip
    of ``pool_pre_ping``; a connection that dies while in use still fails that one request, and the
    pool is then invalidated as a whole.
    """
    try:
        if dbapi_connection.closed:
            raise exc.DisconnectionError("the connection is closed")
        poller = select.poll()
        poller.register(dbapi_connection.fileno(), select.POLLIN)
        readable = poller.poll(0)
    except (OSError, ValueError) as error:  # no descriptor any more
        raise exc.DisconnectionError(str(error)) from error
    if readable:
        raise exc.DisconnectionError("the server closed this idle connection")


def init_app(app: Flask) -> None:
    engine = make_engine(
        app.config["DATABASE_URL"],
        pool_size=app.config["DATABASE_POOL_SIZE"],
        echo=app.config["DATABASE_ECHO"],
    )
    app.extensions[_EXT] = sessionmaker(bind=engine, expire_on_commit=False)
    app.teardown_appcontext(_close_session)
    app.teardown_appcontext(_close_connection)


def engine(app: Flask | None = None) -> Engine:
    factory = (app or current_app).extensions[_EXT]
    bound = factory.kw["bind"]
    assert isinstance(bound, Engine)
    return bound


def session_factory(app: Flask | None = None) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = (app or current_app).extensions[_EXT]
    return factory


def session() -> Session:
    """The session of the current request (or app context), created on first use."""
    if "db_session" not in g:
        g.db_session = session_factory()()
    current: Session = g.db_session
    return current


def connection() -> Connection:
    """A plain SQL Core connection for the current request, in autocommit mode, for hot paths that
    run a few statements without the ORM (the respondent pages): no unit of work, no identity map,
    and no BEGIN/COMMIT round trips around a read or a single atomic statement. For several writes
    that must stand or fall together call :func:`begin` and commit at the end of the view; an
    uncommitted transaction is rolled back at teardown."""
    if "db_connection" not in g:
        g.db_connection = engine().connect().execution_options(isolation_level="AUTOCOMMIT")
    current: Connection = g.db_connection
    return current


def in_autocommit(current: Connection) -> bool:
    """Whether ``current`` runs each statement on its own (as :func:`connection` returns it)."""
    return current.get_execution_options().get("isolation_level") == "AUTOCOMMIT"


def begin(current: Connection) -> Connection:
    """Leave autocommit mode and begin a transaction on ``current`` (see :func:`connection`)."""
    if in_autocommit(current):
        if current.in_transaction():
            current.commit()  # SQLAlchemy's own unit around autocommit statements: nothing to send
        current.execution_options(isolation_level=current.dialect.default_isolation_level)
        current.begin()
    return current


def autocommit(current: Connection) -> None:
    """Roll back what ``current`` left uncommitted and return it to autocommit mode."""
    if current.in_transaction():
        current.rollback()
    current.execution_options(isolation_level="AUTOCOMMIT")


def insert(current: Session | Connection, table: Table) -> postgresql.Insert | sqlite.Insert:
    """An ``INSERT`` into ``table`` that can take ``ON CONFLICT (...) DO NOTHING / DO UPDATE ... WHERE``
    and ``RETURNING``: one statement, atomic on PostgreSQL and SQLite alike, which spell it the same
    (SQLAlchemy has one construct per dialect, with the same methods)."""
    dialect = current.get_bind().dialect.name if isinstance(current, Session) else current.dialect.name
    return (postgresql.insert if dialect == "postgresql" else sqlite.insert)(table)


def _close_connection(exc: BaseException | None) -> None:
    current: Connection | None = g.pop("db_connection", None)
    if current is not None:
        current.close()  # rolls back a transaction left open (an error)


def _close_session(exc: BaseException | None) -> None:
    current: Session | None = g.pop("db_session", None)
    if current is None:
        return
    try:
        if exc is not None or current.in_transaction():
            current.rollback()
    finally:
        current.close()
