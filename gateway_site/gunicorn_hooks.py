"""gunicorn settings module of the gateway's server (``--config
python:gateway_site.gunicorn_hooks``): a liveness listener in the master.

A request thread of a worker serves one request at a time, so a probe on the
main port waits behind the requests when every thread is busy (a frozen
database, slow clients without nginx in front) and a healthy process looks
dead. With ``FTPROXY_HEALTH_BIND=HOST:PORT`` the gunicorn master answers
``GET /health/liveliness`` on that address itself, from a thread of its own
started once the server is ready (gunicorn's documented ``when_ready``
hook): it never waits behind a request, and it stops answering when the
master is gone. Only the liveness probe is served there; readiness stays on
the main port (it must see the database as the requests do).
"""

from __future__ import annotations

import json
import os
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

#: The address of the liveness listener; unset, there is none.
HEALTH_BIND_ENV = "FTPROXY_HEALTH_BIND"
#: Seconds a probe's connection may take to send its request.
READ_TIMEOUT_SECONDS = 2


class LivenessHandler(BaseHTTPRequestHandler):
    timeout = READ_TIMEOUT_SECONDS

    def do_GET(self) -> None:  # noqa: N802 (the name http.server calls)
        if self.path.split("?", 1)[0].rstrip("/") == "/health/liveliness":
            self.answer(200, {"status": "healthy"})
        else:
            self.answer(404, {"error": "only /health/liveliness is served here"})

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format, *args) -> None:  # noqa: A002 (http.server's name)
        """Probes are not logged (one line every few seconds is noise)."""


def parse_bind(bind: str) -> tuple[str, int]:
    host, _, port = bind.rpartition(":")
    if not host or not port.isdigit():
        raise ValueError(f"{HEALTH_BIND_ENV} must be HOST:PORT, not {bind!r}")
    return host, int(port)


def start_liveness(bind: str) -> ThreadingHTTPServer:
    """Serve liveness on ``bind`` from a daemon thread; returns the server."""
    listener = ThreadingHTTPServer(parse_bind(bind), LivenessHandler)
    listener.daemon_threads = True
    threading.Thread(target=listener.serve_forever, name="liveness", daemon=True).start()
    return listener


#: The master's listener (None until ``when_ready``, and in the workers).
LISTENER: ThreadingHTTPServer | None = None


def when_ready(server) -> None:
    """gunicorn's hook, in the master once it listens."""
    global LISTENER
    bind = os.environ.get(HEALTH_BIND_ENV)
    if bind:
        LISTENER = start_liveness(bind)
        server.log.info("Liveness on http://%s/health/liveliness", bind)


def post_fork(server, worker) -> None:
    """gunicorn's hook, in each new worker: the worker closes its copy of
    the listening socket, so that once the master is gone the port refuses
    connections (a probe fails at once) instead of leaving them unanswered."""
    if LISTENER is not None:
        LISTENER.socket.close()
