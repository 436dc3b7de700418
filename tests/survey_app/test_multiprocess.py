"""Two app processes (gunicorn, different ports) share one database and no process state.

A log-in made through one process is valid on the other, and the log-in rate limit counts
failures made through both. Runs on the database under test (PostgreSQL in CI's second run).
"""

from __future__ import annotations

import contextlib
import http.cookiejar
import os
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from survey_app.accounts.models import Role

from .conftest import PASSWORD

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(base: str, proc: subprocess.Popen[bytes], timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}: {proc.stderr.read().decode() if proc.stderr else ''}")
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:  # refused, reset, or a read timeout while the worker boots
            time.sleep(0.2)
    raise TimeoutError(f"{base} did not become healthy in {timeout} s")


@pytest.fixture
def two_servers(app: Flask) -> Iterator[tuple[str, str]]:
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=app.config["DATABASE_URL"], SECRET_KEY=app.config["SECRET_KEY"], STRATA_DEFAULT_LOCALE="en")
    procs: list[subprocess.Popen[bytes]] = []
    bases = []
    try:
        for _ in range(2):
            port = _free_port()
            procs.append(
                subprocess.Popen(
                    [sys.executable, "-m", "gunicorn", "--workers", "1", "--bind", f"127.0.0.1:{port}", "--timeout", "30", "--chdir", str(ROOT), "wsgi:app"],
                    env=env,
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.PIPE,
                )
            )
            bases.append(f"http://127.0.0.1:{port}")
        for base, proc in zip(bases, procs, strict=True):
            _wait_healthy(base, proc)
        yield bases[0], bases[1]
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()


class Browser:
    """A cookie-keeping HTTP client that does not follow redirects."""

    def __init__(self) -> None:
        self.jar = http.cookiejar.CookieJar()

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args: Any, **kwargs: Any) -> None:
                return None

        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar), NoRedirect)

    def request(self, url: str, data: dict[str, str] | None = None) -> tuple[int, str]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        try:
            with self.opener.open(urllib.request.Request(url, data=body), timeout=10) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def login(self, base: str, email: str, password: str) -> int:
        _status, page = self.request(base + "/login")
        token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', page)
        assert token, "login form has no CSRF token"
        status, _ = self.request(base + "/login", {"email": email, "password": password, "csrf_token": token.group(1)})
        return status


def test_two_processes_share_the_database_and_no_process_state(two_servers: tuple[str, str], make_user: Any) -> None:
    a, b = two_servers
    user = make_user(Role.DESIGNER)
    browser = Browser()
    assert browser.request(b + "/admin/")[0] == 302  # not logged in yet
    assert browser.login(a, user.email, PASSWORD) == 302
    status, page = browser.request(b + "/admin/")  # the session made by A is valid on B
    assert status == 200 and "Survey projects" in page

    attacker = Browser()
    other = make_user(Role.REVIEWER)
    for base in (a, b, a, b, a):  # 5 failures spread over both processes
        assert attacker.login(base, other.email, "wrong password!") == 401
    assert attacker.login(b, other.email, PASSWORD) == 429  # the limit counts both processes


@contextlib.contextmanager
def _shipped_gunicorn(app: Flask, log: Path, workers: int) -> Iterator[tuple[subprocess.Popen[bytes], int]]:
    """``gunicorn -c gunicorn.conf.py wsgi:app`` on a free port of 127.0.0.1, as the README deploys it; its
    stderr goes to ``log`` (a file, not a pipe nobody reads: a full pipe would stall the master's logging)."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=app.config["DATABASE_URL"], SECRET_KEY=app.config["SECRET_KEY"], WEB_CONCURRENCY=str(workers))
    port = _free_port()
    with log.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "gunicorn.conf.py"), "--bind", f"127.0.0.1:{port}",
                                 "--chdir", str(ROOT), "wsgi:app"], env=env, stdout=subprocess.DEVNULL, stderr=sink)
    try:
        _wait_healthy(f"http://127.0.0.1:{port}", proc)
        yield proc, port
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_the_shipped_gunicorn_config_replaces_a_killed_worker(app: Flask, tmp_path: Path) -> None:
    """``gunicorn -c gunicorn.conf.py`` (preloaded app, forked workers with their own pools): after a
    worker is killed the master forks a new one, and every request is still answered."""
    import signal

    log = tmp_path / "gunicorn.log"
    with _shipped_gunicorn(app, log, workers=2) as (proc, port):
        base = f"http://127.0.0.1:{port}"

        def workers() -> set[int]:
            found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            return {int(pid) for pid in found}

        deadline = time.monotonic() + 30
        while len(workers()) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        before = workers()
        assert len(before) == 2, log.read_text(errors="replace")[-3000:]
        victim = min(before)
        os.kill(victim, signal.SIGKILL)
        deadline = time.monotonic() + 30
        while (len(workers()) < 2 or victim in workers()) and time.monotonic() < deadline:
            time.sleep(0.05)
        after = workers()
        assert victim not in after and len(after) == 2, log.read_text(errors="replace")[-3000:]
        for _ in range(20):  # both workers answer, each on its own database connections
            with urllib.request.urlopen(base + "/healthz", timeout=5) as reply:
                assert reply.status == 200


def test_the_shipped_gunicorn_config_delivers_a_response_when_the_body_was_not_read(app: Flask, tmp_path: Path) -> None:
    """The shipped config closes a connection without waiting for the client when the request was read
    whole, and as gunicorn does (FIN, then drain) when it was not: a response to a request whose body
    the application never read (here a 404 for a 256 KiB POST) must reach the client, not be destroyed
    by a reset."""
    def exchange(port: int, request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            time.sleep(0.2)  # the response is sent and the connection closed before we read
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            return received

    body = b"x" * 256 * 1024
    with _shipped_gunicorn(app, tmp_path / "gunicorn.log", workers=1) as (_proc, port):
        for _ in range(3):
            reply = exchange(port, b"POST /no-such-page HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                             b"Content-Length: %d\r\n\r\n%s" % (len(body), body))
            assert reply.startswith(b"HTTP/1.1 404 "), reply[:200]
            head, _, content = reply.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: (\d+)", head)
            assert length and len(content) == int(length.group(1))
            reply = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 200 ") and b"Connection: close" in reply
