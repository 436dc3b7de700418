"""gunicorn settings for Strata: ``gunicorn -c gunicorn.conf.py wsgi:app`` (command-line options win).

- One sync worker per CPU (``WEB_CONCURRENCY`` overrides): on a small machine this serves the most
  respondents; more processes than CPUs cost more CPU per request than they win back by filling
  the time a worker waits for PostgreSQL (measured with ``benchmarks/bench_submit.py``).
- The app is loaded once in the master (``preload_app``) and the workers are forked from it, so a
  worker that dies is replaced in milliseconds instead of importing the app again (2-3 CPU-seconds).
  Each worker then starts with an empty connection pool: connections are never shared between
  processes.
- A sync worker closes a connection as soon as its response is sent when the request was read whole
  (see ``close_when_read``): it does not wait for the client to close first, which kept a worker idle
  for a round trip after every request (measured: 10-20% more respondents per second on 2 CPUs).
- Statisticians' large exports run for longer than the 30 s sync timeout: serve ``/api`` from a
  separate pool with ``--worker-class gthread --threads 4`` or a longer ``--timeout`` (README).
"""

import contextlib
import os
import socket

from gunicorn import util

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
    from survey_app.core import db

    db.engine(wsgi.app).dispose(close=False)


_close_graceful = util.close_graceful


def close_when_read(sock, timeout=2.0, max_drain=65536):
    """Close a client connection at once when nothing it sent is left unread; otherwise as gunicorn does.

    gunicorn (since 25) closes every connection the RFC 9112 section 9.6 way: it sends FIN, then reads
    until the client closes (up to 2 s), so that request data the application never read cannot make
    the kernel answer with a reset that destroys the response in flight. A sync worker does nothing
    else meanwhile. The reset only happens when unread data is left (a body the application ignored,
    a pipelined request): with an empty receive buffer, close() sends a plain FIN after the response,
    so the worker can take the next connection at once.
    """
    try:
        unread = sock.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT)
    except BlockingIOError:
        unread = b""  # nothing waiting: the request was read whole
    except ValueError:
        unread = b"?"  # a TLS socket cannot peek: close as gunicorn does
    except OSError:
        unread = b""  # reset or gone: nothing to protect
    if unread:
        _close_graceful(sock, timeout, max_drain)
        return
    with contextlib.suppress(OSError):
        sock.close()


util.close_graceful = close_when_read
