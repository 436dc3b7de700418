"""Two app processes (``strata serve``, different ports) share one database and no process state.

A log-in made through one process is valid on the other, and the log-in rate limit counts
failures made through both. The production server replaces a killed worker and answers requests
whose body the application did not read. Runs on the database under test (PostgreSQL in CI's
second run).
"""

from __future__ import annotations

import contextlib
import http.client
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

STRATA = Path(sys.executable).with_name("strata")


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
                    [str(STRATA), "serve", "--workers", "1", "--bind", f"127.0.0.1:{port}"],
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


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket (how nginx reaches ``strata serve --bind unix:PATH``)."""

    def __init__(self, path: Path) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.settimeout(self.timeout)
        self.sock.connect(str(self.path))


def _get(where: int | Path, path: str) -> int:
    """Status of a GET on 127.0.0.1:``where`` or on the Unix socket ``where`` (a new connection each time)."""
    connection = http.client.HTTPConnection("127.0.0.1", where, timeout=10) if isinstance(where, int) else _UnixConnection(where)
    try:
        connection.request("GET", path)
        return connection.getresponse().status
    finally:
        connection.close()


@contextlib.contextmanager
def _strata_serve(app: Flask, log: Path, workers: int, unix: Path | None = None) -> Iterator[tuple[subprocess.Popen[bytes], int | Path]]:
    """``strata serve`` as the README deploys it, on a free port of 127.0.0.1 or on the Unix socket
    ``unix``; its output goes to ``log`` (a file, not a pipe nobody reads: a full pipe would stall the
    server's logging)."""
    env = {k: v for k, v in os.environ.items() if k != "TEST_DATABASE_URL"}
    env.update(DATABASE_URL=app.config["DATABASE_URL"], SECRET_KEY=app.config["SECRET_KEY"], WEB_CONCURRENCY=str(workers))
    where: int | Path = unix if unix is not None else _free_port()
    bind = f"unix:{where}" if isinstance(where, Path) else f"127.0.0.1:{where}"
    with log.open("wb") as sink:
        proc = subprocess.Popen([str(STRATA), "serve", "--bind", bind], env=env, stdout=sink, stderr=sink)
    try:
        deadline = time.monotonic() + 90
        while True:
            with contextlib.suppress(OSError):
                if _get(where, "/healthz") == 200:
                    break
            assert proc.poll() is None and time.monotonic() < deadline, "strata serve did not start:\n" + log.read_text(errors="replace")
            time.sleep(0.2)
        yield proc, where
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def _wait(condition: Any, what: str, log: Path, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"{what}; server log:\n" + log.read_text(errors="replace")[-3000:]
        time.sleep(0.05)


def test_strata_serve_replaces_a_killed_worker(app: Flask, tmp_path: Path) -> None:
    """``strata serve`` on a Unix socket, as deployed behind nginx (each worker makes its own app and pool;
    the workers take connections from one queue): while a killed worker is replaced the other one
    answers every request, then both do again."""
    import signal

    log, sock = tmp_path / "serve.log", tmp_path / "app.sock"
    with _strata_serve(app, log, workers=2, unix=sock) as (proc, _where):

        def workers() -> set[int]:
            found = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True, text=True).stdout.split()
            return {int(pid) for pid in found}

        _wait(lambda: len(workers()) == 2, "two workers", log)
        victim = min(workers())
        os.kill(victim, signal.SIGKILL)
        answered = 0
        while victim in workers() or len(workers()) < 2:
            assert _get(sock, "/healthz") == 200  # the other worker answers meanwhile
            answered += 1
            assert answered < 5000, "the killed worker was not replaced; server log:\n" + log.read_text(errors="replace")[-3000:]
        for _ in range(20):  # both workers answer, each on its own database connections
            assert _get(sock, "/healthz") == 200


def test_strata_serve_delivers_a_response_when_the_body_was_not_read(app: Flask, tmp_path: Path) -> None:
    """A response to a request whose body the application never read (here a 404 for a 256 KiB POST)
    must reach the client whole, not be destroyed by a reset when the server closes the connection;
    and the next request is answered."""
    def exchange(port: int, request: bytes) -> bytes:
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            time.sleep(0.2)  # the response is sent and the connection closed before we read
            received = b""
            while chunk := sock.recv(65536):
                received += chunk
            return received

    body = b"x" * 256 * 1024
    with _strata_serve(app, tmp_path / "serve.log", workers=1) as (_proc, port):
        assert isinstance(port, int)
        for _ in range(3):
            reply = exchange(port, b"POST /no-such-page HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/octet-stream\r\n"
                             b"Connection: close\r\nContent-Length: %d\r\n\r\n%s" % (len(body), body))
            assert reply.startswith(b"HTTP/1.1 404 "), reply[:200]
            head, _, content = reply.partition(b"\r\n\r\n")
            length = re.search(rb"(?i)content-length: (\d+)", head)
            assert length and len(content) == int(length.group(1))
            reply = exchange(port, b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            assert reply.startswith(b"HTTP/1.1 200 ")


def test_strata_serve_names_no_server_or_version(app: Flask, tmp_path: Path) -> None:
    """The ``Server`` header is the application's, not the server's name and version."""
    with _strata_serve(app, tmp_path / "serve.log", workers=1) as (_proc, port):
        for path in ("/healthz", "/login", "/static/strata.css", "/no-such-page"):
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            try:
                connection.request("GET", path)
                response = connection.getresponse()
                assert response.headers.get_all("Server") == ["Strata"], (path, response.headers.items())
            finally:
                connection.close()
