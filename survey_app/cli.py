"""The ``strata`` console script: Flask's command line with the application made by
:func:`survey_app.create_app` (every feature adds its commands in its ``init_app``), and
``strata serve``, the production server.
"""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

import click
from flask import Flask
from flask.cli import FlaskGroup


def _create_app() -> Flask:
    from survey_app import create_app

    return create_app()


@click.command("serve")
@click.option("--bind", default=lambda: os.environ.get("STRATA_BIND", "127.0.0.1:8000"), show_default="STRATA_BIND or 127.0.0.1:8000",
              help="HOST:PORT, or unix:PATH for a Unix socket (shared by the workers), to listen on.")
@click.option("--workers", type=click.IntRange(1, 256), default=lambda: int(os.environ.get("WEB_CONCURRENCY") or os.cpu_count() or 2),
              show_default="WEB_CONCURRENCY or one per CPU", help="Worker processes.")
@click.option("--threads", type=click.IntRange(1, 64), default=1, show_default=True,
              help="Threads per worker that run requests (more for an instance that serves long API exports).")
@click.option("--access-log/--no-access-log", default=False, show_default=True, help="Log every request (the proxy usually does).")
def serve(bind: str, workers: int, threads: int, access_log: bool) -> None:
    """Serve the application with granian (HTTP in Rust, the app in Python): one process per CPU.

    Each worker process makes its own application and database pool; a worker that dies is replaced
    at once by a fork of this process, which has imported the application.
    Connections are kept alive, also those of a proxy that keeps its upstream connections alive.
    Configuration comes from the environment (DATABASE_URL, SECRET_KEY, STRATA_ENV=production, ...).
    """
    from granian import Granian
    from granian.constants import Interfaces
    from granian.log import LogLevels

    where: dict[str, object]
    if bind.startswith("unix:"):
        # as open as a port on 127.0.0.1: keep the socket in a directory only the proxy and the app can enter
        where = {"uds": Path(bind.removeprefix("unix:")), "uds_permissions": 0o666}
    else:
        host, _, port = bind.rpartition(":")
        if not host or not port.isdigit():
            raise click.BadParameter("use HOST:PORT or unix:PATH, e.g. 127.0.0.1:8000", param_hint="--bind")
        where = {"address": host.strip("[]"), "port": int(port)}
    # Import the application here once (it opens no database connection): the workers are forked from
    # this process, so a worker that dies is replaced in about 0.1 s instead of importing everything
    # again (about 3 CPU-seconds), and the imported code is shared between the workers.
    _create_app()
    multiprocessing.set_start_method("fork", force=True)
    Granian(
        "survey_app:create_app", factory=True, interface=Interfaces.WSGI, **where, workers=workers,
        blocking_threads=threads, websockets=False, respawn_failed_workers=True, respawn_interval=0.5,
        log_level=LogLevels.warning, log_access=access_log,
    ).serve()


def main() -> None:
    """Entry point of the ``strata`` console script."""
    group = FlaskGroup(create_app=_create_app, help="Strata survey service.")
    group.add_command(serve)
    group()
