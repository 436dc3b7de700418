"""gunicorn settings for Strata: ``gunicorn -c gunicorn.conf.py wsgi:app`` (command-line options win).

- One sync worker per CPU (``WEB_CONCURRENCY`` overrides): on a small machine this serves the most
  respondents; more processes than CPUs cost more CPU per request than they win back by filling
  the time a worker waits for PostgreSQL (measured with ``benchmarks/bench_submit.py``).
- The app is loaded once in the master (``preload_app``) and the workers are forked from it, so a
  worker that dies is replaced in milliseconds instead of importing the app again (2-3 CPU-seconds).
  Each worker then starts with an empty connection pool: connections are never shared between
  processes.
- Statisticians' large exports run for longer than the 30 s sync timeout: serve ``/api`` from a
  separate pool with ``--worker-class gthread --threads 4`` or a longer ``--timeout`` (README).
"""

import os

bind = os.environ.get("STRATA_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(os.cpu_count() or 2)))
worker_class = "sync"
preload_app = True
# gunicorn's control socket (a thread in the master, one default path shared by every instance on the
# host) is not used; without it the master is a single thread that only forks and reaps workers.
control_socket_disable = True


def post_fork(server, worker):
    """Forget the pool inherited from the master (without closing its sockets, which are the master's)."""
    import wsgi
    from survey_app import db

    db.engine(wsgi.app).dispose(close=False)
