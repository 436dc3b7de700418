"""Load and safety benchmark for respondent submissions under nginx + ``strata serve`` + PostgreSQL.

    .venv/bin/python benchmarks/bench_submit.py [--responses 6000] [--clients 16] [--workers N]
                                                [--front nginx|direct|both] [--client wrk|python] [--no-kill]

Runs on 127.0.0.1, each with a fresh throw-away PostgreSQL database (dropped at the end): "steady",
then "worker killed" (skipped with --no-kill), in each shape asked for. The production shape
(``--front nginx``, the default) puts Debian's nginx in front of the app server as the README deploys
it: clients keep their connections to nginx alive and so does nginx to the app server.
``--front direct`` sends the clients straight to the app server; ``both`` runs both shapes for
comparison. Each run

1. creates the schema, a survey project with a one-page questionnaire (county, sex, age group,
   urban/rural, 16 satisfaction items on a 5-point scale with "don't know", an overall rating and a
   conditional text: every answer validated by the server) and N personal invitations;
2. starts ``strata serve`` (granian, one worker process per CPU, one request thread each; --workers
   and --threads override) on the real app (CSRF on), as the README deploys it, and in the nginx
   shape nginx in front of it (benchmarks/nginx.conf: worker_processes auto, keep-alive to the app,
   access log buffered, proxy headers as a deployment sets them);
3. sends N simulated respondents over C concurrent connections: each GETs its link (CSRF token,
   idempotency key, cookies) and POSTs the complete page; a connection error or 5xx is retried with
   the same idempotency key. In the second run one app worker is killed (SIGKILL) once a third
   of the respondents are done. The load client is wrk (default when /usr/bin/wrk exists: C threads
   with one connection each, driven by benchmarks/bench_submit.lua) or Python threads
   (--client python, http.client), which take more of the CPU the server needs;
4. measures the raw single-row INSERT rate of the same database with the same number of threads;
5. checks in the database that exactly N complete responses exist, one per invitation, with one
   page submission each: none duplicated, none lost.

The CPU is shared by the server, the load client and PostgreSQL, so the numbers are a floor for a
dedicated server; the table shows the CPU milliseconds per respondent of each (app server master and
workers, nginx, the PostgreSQL processes serving the benchmark database, the load client) to see where the
cores go. The CPU time per respondent of every process changes by up to a factor of two from one
minute to the next on a shared virtual machine (seen on one day with the same code: server 2.2 to
4.3 ms), so compare runs made together, interleave the variants, and repeat before concluding. Throughput is measured over the busy period (first GET to
last finished respondent). Prints a table; exit status 1 when a database check
fails.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
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

from survey_app import schema  # noqa: E402
from survey_app.demo.services import demo_questionnaires as demo  # noqa: E402
from survey_app.fieldwork.models import Invitation, InvitationStatus  # noqa: E402
from survey_app.fieldwork.services import invitations  # noqa: E402
from survey_app.projects.services import surveys  # noqa: E402
from survey_app.questionnaires.services import questionnaires  # noqa: E402
from survey_app.respond.models import PageSubmission, Response, ResponseStatus  # noqa: E402

SERVER = "postgresql://postgres@127.0.0.1:5432"
WRK = Path("/usr/bin/wrk")
NGINX = Path("/usr/sbin/nginx")
NGINX_CONF = Path(__file__).resolve().with_name("nginx.conf")
WRK_SCRIPT = Path(__file__).resolve().with_suffix(".lua")
CLOCK_TICK = os.sysconf("SC_CLK_TCK")


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
    schema.metadata.create_all(engine)
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
    client_cpu: float = 0.0  # CPU seconds used by the load client
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
        cpu = time.thread_time()
        client = Client(port)
        while True:
            with cursor_lock:
                item = next(cursor, None)
                if item is None:
                    break
            respond(client, item[1], item[0], stats)
            with cursor_lock:
                done[0] += 1
                on_progress(done[0])
        with stats.lock:
            stats.client_cpu += time.thread_time() - cpu

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return stats, time.perf_counter() - started


def run_wrk(port: int, tokens: list[str], clients: int) -> tuple[Stats, float]:
    """The same respondents driven by wrk + bench_submit.lua (the Monitor kills the worker meanwhile).

    wrk keeps running until -d even when every thread has stopped, so the finished threads leave marker
    files and wrk is interrupted (SIGINT: it then runs done(), which writes the results file). A finished
    thread parks its last reconnect on a port of ours that is never served (see bench_submit.lua).
    """
    with tempfile.TemporaryDirectory(prefix="strata_bench_") as tmp, socket.socket() as park:
        park.bind(("127.0.0.1", 0))
        park.listen(clients)
        work = Path(tmp)
        source, results = work / "respondents.tsv", work / "results.tsv"
        source.write_text("".join(f"{token}\t{urllib.parse.urlencode(answers(i))}\n" for i, token in enumerate(tokens)))
        duration = max(60, min(1800, 30 + len(tokens) // 20))  # generous: 20 respondents/s; ended early below
        with open(work / "wrk.out", "wb") as out:
            wrk = subprocess.Popen(
                [str(WRK), "-t", str(clients), "-c", str(clients), "-d", f"{duration}s", "--timeout", "60s", "-s", str(WRK_SCRIPT),
                 f"http://127.0.0.1:{port}", "--", str(source), str(results), str(clients),
                 str(park.getsockname()[1])],
                stdout=out, stderr=subprocess.STDOUT)
        usage = None
        interrupted = 0.0
        while usage is None:
            time.sleep(0.2)
            pid, status, rusage = os.wait4(wrk.pid, os.WNOHANG)
            if pid:
                wrk.returncode, usage = os.waitstatus_to_exitcode(status), rusage
            elif time.monotonic() - interrupted > 1 and len(list(work.glob("results.tsv.done.*"))) == clients:
                # a SIGINT that lands on a wrk thread not yet gone sets its stop flag but does not wake
                # the main thread's sleep(-d): send it again until wrk exits
                wrk.send_signal(signal.SIGINT)
                interrupted = time.monotonic()
        if wrk.returncode != 0 or not results.exists():
            raise RuntimeError(f"wrk failed ({wrk.returncode}):\n{(work / 'wrk.out').read_text()}")
        stats = Stats(client_cpu=usage.ru_utime + usage.ru_stime)
        starts, finishes, seen = [], [], set()
        for line in results.read_text().splitlines():
            kind, *fields = line.split("\t")
            if kind == "thread":
                stats.retries += int(fields[3])
                starts += [float(fields[1])] if fields[1] != "-" else []
                finishes += [float(fields[2])] if fields[2] != "-" else []
            elif kind == "ok":
                seen.add(fields[0])
                stats.post_ms.append(float(fields[1]))
                stats.total_ms.append(float(fields[2]))
            else:
                seen.add(fields[0])
                stats.failures.append(f"{fields[0]}: {fields[1]}")
        stats.failures += [f"{token}: not finished before wrk's -d {duration}s" for token in tokens if token not in seen]
    return stats, (max(finishes) - min(starts)) if starts and finishes else float("nan")


def proc_cpu(pid: int, children: bool = False) -> float | None:
    """CPU seconds (user + system) of a process, with those of its reaped children; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError):
        return None
    ticks = sum(int(f) for f in fields[11:15 if children else 13])  # utime stime [cutime cstime]
    return ticks / CLOCK_TICK


def server_cpu(master: int) -> float:
    """The app server (or nginx): the master with its reaped children (a killed worker) plus the live workers."""
    workers = subprocess.run(["pgrep", "-P", str(master)], capture_output=True, text=True).stdout.split()
    return sum(proc_cpu(pid) or 0.0 for pid in map(int, workers)) + (proc_cpu(master, children=True) or 0.0)


class Monitor(threading.Thread):
    """Every 0.2 s: the CPU of the PostgreSQL processes working for the benchmark database (its backends and
    the server's background writers, not this monitor's own connection), and optionally a callback with the
    number of complete responses. Backends that exit lose at most their last 0.2 s."""

    def __init__(self, url: str, name: str, on_count: Callable[[int], None] | None = None) -> None:
        super().__init__(daemon=True)
        self.engine = create_engine(url.replace("postgresql://", "postgresql+psycopg://"), pool_size=1)
        self.name_, self.on_count = name, on_count
        self.stop = threading.Event()
        self.seen: dict[int, float] = {}
        self.conn = self.engine.connect()
        self.sample()
        self.baseline = dict(self.seen)

    def sample(self) -> None:
        pids = self.conn.scalars(text("SELECT pid FROM pg_stat_activity WHERE (datname = :name OR datname IS NULL) "
                                      "AND pid <> pg_backend_pid()"), {"name": self.name_}).all()
        if self.on_count is not None:
            self.on_count(self.conn.scalar(select(func.count(Response.id)).where(Response.status == ResponseStatus.COMPLETE)) or 0)
        self.conn.rollback()
        for pid in pids:
            cpu = proc_cpu(pid)
            if cpu is not None:
                self.seen[pid] = cpu

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.sample()

    def finish(self) -> float:
        self.stop.set()
        self.join()
        self.sample()
        self.conn.close()
        self.engine.dispose()
        return sum(cpu - self.baseline.get(pid, 0.0) for pid, cpu in self.seen.items())


def cookies_set_by_page(port: int, token: str) -> int:
    """How many cookies the respondent page sets (wrk's Lua sees only the last of repeated headers)."""
    _status, headers, _page = Client(port).request("GET", f"/r/{token}", None, {})
    return len(headers.get("set-cookie", []))


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


def wrk_version() -> str:
    found = re.search(r"wrk (\S+)", subprocess.run([str(WRK), "--version"], capture_output=True, text=True).stdout)
    return found.group(1) if found else "?"


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))] if ordered else float("nan")


class Nginx:
    """nginx from Debian's package in front of the app server, with benchmarks/nginx.conf, in a temporary prefix."""

    def __init__(self, upstream: str) -> None:
        self.port = free_port()
        self.tmp = tempfile.TemporaryDirectory(prefix="strata_nginx_")
        prefix = Path(self.tmp.name)
        prefix.chmod(0o755)  # nginx workers run as nobody and keep request bodies / buffers here
        config = NGINX_CONF.read_text().replace("@PREFIX@", str(prefix)).replace("@LISTEN@", f"127.0.0.1:{self.port}")
        (prefix / "nginx.conf").write_text(config.replace("@UPSTREAM@", upstream))
        self.process = subprocess.Popen([str(NGINX), "-p", str(prefix), "-c", str(prefix / "nginx.conf"), "-e", str(prefix / "error.log")])
        wait_for_port(self.port, self.process, "nginx")

    def close(self) -> None:
        self.process.send_signal(signal.SIGQUIT)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        errors = Path(self.tmp.name, "error.log").read_text()
        self.tmp.cleanup()
        if "[emerg]" in errors or "[alert]" in errors:
            print(errors, file=sys.stderr)


def wait_for_socket(path: Path, process: subprocess.Popen[bytes]) -> None:
    deadline = time.time() + 60
    while True:
        try:
            with socket.socket(socket.AF_UNIX) as sock:
                sock.connect(str(path))
                return
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError("strata serve did not start") from None
            time.sleep(0.2)


def wait_for_port(port: int, process: subprocess.Popen[bytes], what: str) -> None:
    deadline = time.time() + 60
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                raise RuntimeError(f"{what} did not start") from None
            time.sleep(0.2)


@dataclass
class Phase:
    """One run: a fresh database and server, N respondents, the checks."""

    label: str
    stats: Stats
    elapsed: float
    cpu: tuple[float, float, float, float]  # server, nginx, database, load client (CPU seconds)
    killed: tuple[int, int] | None
    inserts: float
    checked: dict[str, int]

    @property
    def rate(self) -> float:
        return len(self.stats.post_ms) / self.elapsed

    @property
    def p99(self) -> float:
        return percentile(self.stats.post_ms, 0.99)

    def ok(self, responses: int) -> bool:
        checked = self.checked
        return (checked["responses"] == checked["complete"] == checked["distinct invitations"] == checked["page submissions"]
                == checked["invitations submitted"] == responses and checked["suggestions kept when not relevant"] == 0
                and not self.stats.failures)


def run_phase(args: argparse.Namespace, label: str, kill: bool, front: str) -> Phase:
    name = f"strata_bench_{secrets.token_hex(4)}"
    admin_url = f"{SERVER}/postgres"
    url = f"{SERVER}/{name}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    server: subprocess.Popen[bytes] | None = None
    proxy: Nginx | None = None
    try:
        tokens = prepare(url, args.responses)
        port = free_port()
        env = {**os.environ, "DATABASE_URL": url, "SECRET_KEY": secrets.token_hex(16), "STRATA_DB_POOL_SIZE": "2",
               "STRATA_DEFAULT_LOCALE": "zh_CN"}
        # as deployed: behind nginx on a Unix socket (one accept queue for every worker), else on a port
        sock = Path(tempfile.gettempdir(), f"{name}.sock")
        bind = f"unix:{sock}" if front == "nginx" else f"127.0.0.1:{port}"
        command = [str(ROOT / ".venv/bin/strata"), "serve", "--bind", bind, "--threads", str(args.threads)]
        if args.workers:
            command += ["--workers", str(args.workers)]
        server = subprocess.Popen(command, cwd=ROOT, env=env)
        if front == "nginx":
            wait_for_socket(sock, server)
            proxy = Nginx(bind)
            port = proxy.port
        else:
            wait_for_port(port, server, "strata serve")
        Client(port).request("GET", "/healthz", None, {})  # warm up
        if args.client == "wrk" and tokens and cookies_set_by_page(port, tokens[0]) > 1:
            raise RuntimeError("the respondent page sets several cookies; wrk keeps only the last: use --client python")
        killed: list[int] = []

        def on_progress(done: int) -> None:
            if kill and not killed and done >= len(tokens) // 3:
                children = subprocess.run(["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()
                if children:
                    victim = int(children[0])
                    os.kill(victim, signal.SIGKILL)
                    killed.extend((victim, done))

        monitor = Monitor(url, name, on_progress if args.client == "wrk" and kill else None)
        server_before = server_cpu(server.pid)
        proxy_before = server_cpu(proxy.process.pid) if proxy else 0.0
        monitor.start()
        try:
            if args.client == "wrk":
                stats, elapsed = run_wrk(port, tokens, args.clients)
            else:
                stats, elapsed = run_clients(port, tokens, args.clients, on_progress)
            cpu_server = server_cpu(server.pid) - server_before
            cpu_proxy = server_cpu(proxy.process.pid) - proxy_before if proxy else 0.0
        finally:
            cpu_database = monitor.finish()
        inserts = insert_rate(url, args.clients, min(20000, max(2000, args.responses * 2)))
        checked = verify(url, tokens)
    finally:
        if proxy is not None:
            proxy.close()
        if server is not None:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=20)
            except subprocess.TimeoutExpired:
                server.kill()
        Path(tempfile.gettempdir(), f"{name}.sock").unlink(missing_ok=True)
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return Phase(label, stats, elapsed, (cpu_server, cpu_proxy, cpu_database, stats.client_cpu),
                 (killed[0], killed[1]) if killed else None, inserts, checked)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--responses", type=int, default=6000)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--workers", type=int, default=0, help="app worker processes (default: strata serve's, one per CPU)")
    parser.add_argument("--threads", type=int, default=1, help="request threads per app worker")
    parser.add_argument("--no-kill", action="store_true", help="skip the second run, in which a worker is killed")
    parser.add_argument("--front", choices=("nginx", "direct", "both"), default="nginx",
                        help="nginx in front of the app server (production shape, default), clients straight to it, or both")
    parser.add_argument("--client", choices=("wrk", "python"), default="wrk" if os.access(WRK, os.X_OK) else "python",
                        help="load client: wrk + bench_submit.lua (default when /usr/bin/wrk exists) or Python threads")
    args = parser.parse_args()
    if args.front != "direct" and not os.access(NGINX, os.X_OK):
        parser.error(f"{NGINX} not found: apt-get install -y nginx, or use --front direct")
    phases = []
    for front in (("direct", "nginx") if args.front == "both" else (args.front,)):
        phases.append(run_phase(args, f"{front}, steady", kill=False, front=front))
        if not args.no_kill:
            phases.append(run_phase(args, f"{front}, worker killed", kill=True, front=front))
    client = (f"wrk {wrk_version()} + bench_submit.lua, one connection per thread" if args.client == "wrk"
              else "Python threads, http.client")
    workers = str(args.workers or os.environ.get("WEB_CONCURRENCY") or os.cpu_count())
    print(f"respondents per run (GET page + POST complete page): {args.responses}")
    print(f"load client: {client}")
    granian = subprocess.run([str(ROOT / ".venv/bin/granian"), "--version"], capture_output=True, text=True).stdout.strip()
    print(f"app server: strata serve ({granian}), workers / threads each / CPUs: {workers} / {args.threads} / {os.cpu_count()}")
    print(f"client connections: {args.clients}; front: {args.front}")

    def per_respondent(phase: Phase) -> str:
        return " / ".join(f"{1000 * cpu / max(1, args.responses):.2f}" for cpu in phase.cpu)

    table: list[tuple[str, Callable[[Phase], str]]] = [
        ("worker killed (SIGKILL)", lambda p: f"pid {p.killed[0]} at {p.killed[1]} done" if p.killed else "no"),
        ("wall time (first GET to last respondent)", lambda p: f"{p.elapsed:.1f} s"),
        ("validated submissions per second", lambda p: f"{p.rate:.0f}"),
        ("HTTP requests per second (GET + POST)", lambda p: f"{2 * p.rate:.0f}"),
        ("POST latency p50 / p99", lambda p: f"{percentile(p.stats.post_ms, 0.5):.0f} / {p.p99:.0f} ms"),
        ("respondent latency (GET+POST) p50 / p99",
         lambda p: f"{percentile(p.stats.total_ms, 0.5):.0f} / {percentile(p.stats.total_ms, 0.99):.0f} ms"),
        ("client retries (same idempotency key)", lambda p: f"{p.stats.retries}"),
        ("CPU ms per respondent: app server / nginx / database / client", per_respondent),
        ("CPU s used / available (CPUs x wall time)", lambda p: f"{sum(p.cpu):.1f} / {(os.cpu_count() or 1) * p.elapsed:.1f}"),
        ("raw single-row INSERT rate, same database", lambda p: f"{p.inserts:.0f} rows/s"),
        ("submissions / raw inserts", lambda p: f"{p.rate / p.inserts:.3f}"),
        ("goal: >= 500/s with p99 < 200 ms", lambda p: "met" if p.rate >= 500 and p.p99 < 200 else "not met"),
        *[(f"db: {key}", (lambda k: lambda p: str(p.checked[k]))(key)) for key in phases[0].checked],
        ("database check: exactly N, none duplicated or lost", lambda p: "OK" if p.ok(args.responses) else "FAILED"),
    ]
    width = max(len(label) for label, _ in table)
    columns = [max(len(p.label), *(len(cell(p)) for _, cell in table)) for p in phases]
    print(f"{'':<{width}}  " + "  ".join(f"{p.label:>{w}}" for p, w in zip(phases, columns, strict=True)))
    for label, cell in table:
        print(f"{label:<{width}}  " + "  ".join(f"{cell(p):>{w}}" for p, w in zip(phases, columns, strict=True)))
    for phase in phases:
        for failure in phase.stats.failures[:10]:
            print(f"failure ({phase.label}):", failure)
    return 0 if all(p.ok(args.responses) for p in phases) else 1


if __name__ == "__main__":
    raise SystemExit(main())
