"""Load and safety benchmark for respondent submissions under gunicorn + PostgreSQL.

    .venv/bin/python benchmarks/bench_submit.py [--responses 2000] [--clients 16] [--workers 4]

What it does, all on 127.0.0.1:

1. creates a throw-away PostgreSQL database (dropped at the end), the schema, a survey project with a
   one-page questionnaire (county, sex, age group, urban/rural, 16 satisfaction items on a 5-point
   scale with "don't know", an overall rating and a conditional text: every answer validated by the
   server) and N personal invitations;
2. starts gunicorn with several sync workers on the real app (CSRF on);
3. N simulated respondents, spread over concurrent client threads: each GETs its link (CSRF token,
   idempotency key, cookies) and POSTs the complete page; a connection error or 5xx is retried with
   the same idempotency key; one gunicorn worker is killed (SIGKILL) while the run is in flight;
4. measures the raw single-row INSERT rate of the same database with the same number of threads;
5. checks in the database that exactly N complete responses exist, one per invitation, with one
   page submission each: none duplicated, none lost.

The CPU is shared by the server, the clients and PostgreSQL, so the numbers are a floor for a
dedicated server. Prints a table; exit status 1 when the database check fails.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import psycopg  # noqa: E402
from sqlalchemy import create_engine, func, select, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from survey_app.models import (  # noqa: E402
    Base,
    Invitation,
    InvitationStatus,
    PageSubmission,
    Response,
    ResponseStatus,
)
from survey_app.services import demo_questionnaires as demo  # noqa: E402
from survey_app.services import invitations, questionnaires, surveys  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"


def one_page_xlsform() -> bytes:
    survey = [
        demo._q("begin group", "all", "满意度调查", "Satisfaction survey", appearance="field-list"),
        demo._q("select_one county", "county", "县", "County", required="yes"),
        demo._q("select_one sex", "sex", "性别", "Sex", required="yes"),
        demo._q("select_one age_group", "age_group", "年龄", "Age", required="yes"),
        demo._q("select_one area", "area", "居住地", "Area", required="yes"),
        *[demo._q("select_one sat5", f"i{n:02d}", zh, en, required="yes") for n, (zh, en) in enumerate(demo.INDICATORS, start=1)],
        demo._q("select_one sat5", "overall", "总体满意度", "Overall", required="yes", appearance="likert"),
        demo._q("text", "suggestion", "建议", "Suggestion", relevant="${overall} != '' and ${overall} <= 2", appearance="multiline"),
        demo._q("end group", ""),
    ]
    choices = [
        *demo._choices("county", [(f"c{i:02d}", f"县{i}", f"County {i}") for i in range(1, 11)]),
        *demo._choices("sex", [("1", "男", "Male"), ("2", "女", "Female")]),
        *demo._choices("age_group", [("15_24", "15-24", "15-24"), ("25_44", "25-44", "25-44"), ("45_65", "45-65", "45-65")]),
        *demo._choices("area", [("urban", "城镇", "Urban"), ("rural", "农村", "Rural")]),
        *demo._choices("sat5", [*demo.SATISFACTION_5, demo.DONT_KNOW], missing=("dk",)),
    ]
    return demo._workbook(survey, choices, {"form_title::中文 (zh)": "基准问卷", "form_id": "bench", "default_language": "zh"})


def answers(index: int) -> dict[str, str]:
    values = {"q-county": f"c{index % 10 + 1:02d}", "q-sex": str(index % 2 + 1), "q-age_group": ("15_24", "25_44", "45_65")[index % 3],
              "q-area": ("urban", "rural")[index % 2], "q-overall": str(index % 5 + 1)}
    for n in range(1, 17):
        values[f"q-i{n:02d}"] = "dk" if (index + n) % 7 == 0 else str((index * n) % 5 + 1)
    if index % 5 < 2:
        values["q-suggestion"] = f"建议 {index}"
    return values


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def prepare(url: str, count: int) -> list[str]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    Base.metadata.create_all(engine)
    from datetime import date, timedelta

    with Session(engine) as session:
        project = surveys.create_project(session, {
            "code": "bench-satisfaction", "title": "基准", "form_number": "基准表", "issuing_authority": "基准机关",
            "approval_number": "基准1号", "valid_until": date.today() + timedelta(days=30), "status": "active"}, actor_label="bench")
        version = questionnaires.import_xlsform(session, project, one_page_xlsform(), "bench.xlsx", actor_label="bench")
        questionnaires.publish(session, version, actor_label="bench")
        units = demo.demo_sample(session, project, count)
        tokens = [i.token for i in invitations.issue_personal(session, project, units, actor_label="bench")]
        session.commit()
    engine.dispose()
    return tokens


@dataclass
class Stats:
    post_ms: list[float] = field(default_factory=list)
    total_ms: list[float] = field(default_factory=list)
    retries: int = 0
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client:
    """One keep-alive HTTP connection; reconnects after errors."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.conn: http.client.HTTPConnection | None = None

    def request(self, method: str, path: str, body: str | None, headers: dict[str, str]) -> tuple[int, dict[str, list[str]], str]:
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            self.conn.request(method, path, body=body, headers=headers)
            reply = self.conn.getresponse()
            data = reply.read().decode()
        except (OSError, http.client.HTTPException):
            self.conn.close()
            self.conn = None
            raise
        found: dict[str, list[str]] = {}
        for key, value in reply.getheaders():
            found.setdefault(key.lower(), []).append(value)
        if reply.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        return reply.status, found, data


def respond(client: Client, token: str, index: int, stats: Stats) -> None:
    started = time.perf_counter()
    for attempt in range(8):
        try:
            status, headers, page = client.request("GET", f"/r/{token}", None, {})
            if status != 200:
                raise RuntimeError(f"GET {status}")
            break
        except (OSError, http.client.HTTPException, RuntimeError):
            with stats.lock:
                stats.retries += 1
            time.sleep(0.05 * (attempt + 1))
    else:
        with stats.lock:
            stats.failures.append(f"{token}: GET failed")
        return
    cookies = "; ".join(c.split(";", 1)[0] for c in headers.get("set-cookie", []))
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', page)
    key = re.search(r'name="submission_key" value="([^"]+)"', page)
    if csrf is None or key is None:
        with stats.lock:
            stats.failures.append(f"{token}: no form on the page")
        return
    form = {"csrf_token": csrf.group(1), "submission_key": key.group(1), "page": "0", "shown_at": f"{time.time() - 30:.3f}", **answers(index)}
    body = urllib.parse.urlencode(form)
    post_headers = {"Content-Type": "application/x-www-form-urlencoded", "Cookie": cookies, "User-Agent": "bench (Mobile)"}
    for attempt in range(8):  # retried with the same idempotency key
        sent = time.perf_counter()
        try:
            status, _headers, reply = client.request("POST", f"/r/{token}", body, post_headers)
        except (OSError, http.client.HTTPException):
            status, reply = 0, ""
        if status == 303:
            done = time.perf_counter()
            with stats.lock:
                stats.post_ms.append((done - sent) * 1000)
                stats.total_ms.append((done - started) * 1000)
            return
        if status and status < 500:
            with stats.lock:
                stats.failures.append(f"{token}: POST {status} {reply[:200]!r}")
            return
        with stats.lock:
            stats.retries += 1
        time.sleep(0.05 * (attempt + 1))
    with stats.lock:
        stats.failures.append(f"{token}: POST kept failing")


def run_clients(port: int, tokens: list[str], clients: int, on_progress: Callable[[int], None]) -> tuple[Stats, float]:
    stats = Stats()
    cursor = iter(enumerate(tokens))
    cursor_lock = threading.Lock()
    done = [0]

    def worker() -> None:
        client = Client(port)
        while True:
            with cursor_lock:
                item = next(cursor, None)
                if item is None:
                    return
            respond(client, item[1], item[0], stats)
            with cursor_lock:
                done[0] += 1
                on_progress(done[0])

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats, time.perf_counter() - started


def insert_rate(url: str, threads: int, rows: int) -> float:
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("CREATE TABLE bench_insert (id bigserial PRIMARY KEY, key text UNIQUE, payload jsonb)")
    per_thread = rows // threads

    def work(offset: int) -> None:
        with psycopg.connect(url, autocommit=True) as conn:
            for i in range(per_thread):
                conn.execute("INSERT INTO bench_insert (key, payload) VALUES (%s, %s)", (f"{offset}-{i}", '{"a": 1}'))

    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    started = time.perf_counter()
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    return per_thread * threads / (time.perf_counter() - started)


def verify(url: str, tokens: list[str]) -> dict[str, int]:
    engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    with Session(engine) as session:
        result = {
            "responses": session.scalar(select(func.count(Response.id))) or 0,
            "complete": session.scalar(select(func.count(Response.id)).where(Response.status == ResponseStatus.COMPLETE)) or 0,
            "distinct invitations": session.scalar(select(func.count(func.distinct(Response.invitation_id)))) or 0,
            "page submissions": session.scalar(select(func.count(PageSubmission.id))) or 0,
            "invitations submitted": session.scalar(select(func.count(Invitation.id)).where(
                Invitation.status == InvitationStatus.SUBMITTED, Invitation.token.in_(tokens))) or 0,
            "suggestions kept when not relevant": session.scalar(text(
                "SELECT count(*) FROM responses WHERE (answers->>'overall')::int > 2 AND answers::jsonb ? 'suggestion'")) or 0,
        }
    engine.dispose()
    return result


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=2000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=4)
    parser.add_argument("--worker-class", default="sync", choices=("sync", "gthread"),
                        help="gunicorn worker class (gthread keeps client connections alive)")
    parser.add_argument("--threads", type=int, default=1, help="threads per gunicorn worker (gthread)")
    parser.add_argument("--no-kill", action="store_true", help="do not kill a worker during the run")
    args = parser.parse_args()
    name = f"strata_bench_{secrets.token_hex(4)}"
    admin_url = f"{SERVER}/postgres"
    url = f"{SERVER}/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    server: subprocess.Popen[bytes] | None = None
    try:
        tokens = prepare(url, args.responses)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(16), "STRATA_DB_POOL_SIZE": "2",
               "STRATA_DEFAULT_LOCALE": "zh_CN"}
        server = subprocess.Popen(
            [str(ROOT / ".venv/bin/gunicorn"), "-w", str(args.workers), "-k", args.worker_class, "--threads", str(args.threads),
             "-b", f"127.0.0.1:{port}", "--log-level", "warning", "--timeout", "60", "wsgi:app"], cwd=ROOT, env=env)
        deadline = time.time() + 60
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.time() > deadline or server.poll() is not None:
                    raise RuntimeError("gunicorn did not start") from None
                time.sleep(0.2)
        Client(port).request("GET", "/healthz", None, {})  # warm up
        killed: list[int] = []

        def on_progress(done: int) -> None:
            if not args.no_kill and not killed and done >= len(tokens) // 3:
                children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
                if children:
                    victim = int(children[0])
                    os.kill(victim, signal.SIGKILL)
                    killed.append(victim)

        stats, elapsed = run_clients(port, tokens, args.clients, on_progress)
        inserts = insert_rate(url, args.clients, min(20000, max(2000, args.responses * 2)))
        checked = verify(url, tokens)
    finally:
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    rate = len(stats.post_ms) / elapsed
    rows = [
        ("respondents (GET page + POST complete page)", f"{args.responses}"),
        ("client threads / gunicorn workers / CPUs", f"{args.clients} / {args.workers} / {os.cpu_count()}"),
        ("gunicorn worker class / threads per worker", f"{args.worker_class} / {args.threads}"),
        ("worker killed during the run (SIGKILL)", f"pid {killed[0]}" if killed else "no"),
        ("wall time", f"{elapsed:.1f} s"),
        ("validated submissions per second", f"{rate:.0f}"),
        ("HTTP requests per second (GET + POST)", f"{2 * rate:.0f}"),
        ("POST latency p50 / p99", f"{percentile(stats.post_ms, 0.5):.0f} / {percentile(stats.post_ms, 0.99):.0f} ms"),
        ("respondent latency (GET+POST) p50 / p99", f"{percentile(stats.total_ms, 0.5):.0f} / {percentile(stats.total_ms, 0.99):.0f} ms"),
        ("client retries (same idempotency key)", f"{stats.retries}"),
        ("raw single-row INSERT rate, same database", f"{inserts:.0f} rows/s"),
        ("submissions / raw inserts", f"{rate / inserts:.3f}"),
        ("goal: >= 500/s with p99 < 200 ms", "met" if rate >= 500 and percentile(stats.post_ms, 0.99) < 200 else "not met"),
        *[(f"db: {k}", str(v)) for k, v in checked.items()],
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        print(f"{key:<{width}}  {value}")
    for failure in stats.failures[:10]:
        print("failure:", failure)
    ok = (checked["responses"] == checked["complete"] == checked["distinct invitations"] == checked["page submissions"]
          == checked["invitations submitted"] == args.responses and checked["suggestions kept when not relevant"] == 0
          and not stats.failures)
    print("database check:", "OK: exactly N responses, none duplicated, none lost" if ok else "FAILED")
    print(f"mean POST latency {statistics.fmean(stats.post_ms):.0f} ms" if stats.post_ms else "no successful POST")
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
