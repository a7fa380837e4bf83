"""A bound on every wait for a PostgreSQL answer, where libpq has none.

The settings give PostgreSQL connections libpq's own bounds
(``connect_timeout``, TCP keepalives, ``tcp_user_timeout``) and a
``statement_timeout``. None of them ends a wait on a link that went silent
while the kernel still acknowledges the bytes (a frozen server, a stuck
proxy): the server never sees the query, and the client waits for ever.

Here a watchdog thread shuts down the socket (``Connection.fileno()``) of a
connection that has been waiting for an answer longer than
``ANSWER_TIMEOUT_SECONDS``. psycopg then fails the wait as it fails on a
lost connection; the request answers 503, and the pool drops the
connection. Bounded: a query run through Django (``BoundedQueries``, a
Django execute wrapper) and the pool's check of a connection before it
hands it out (``BoundedConnection.execute``).
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import psycopg
from django.db import connections

#: Seconds a query may wait for the server's answer (the statement timeout
#: plus five seconds, unless set).
ANSWER_TIMEOUT_SECONDS = float(
    os.environ.get("FTPROXY_DB_ANSWER_TIMEOUT_SECONDS")
    or int(os.environ.get("FTPROXY_DB_STATEMENT_TIMEOUT_MS", 30_000)) / 1000 + 5
)
#: How often the watchdog looks at the waits.
TICK_SECONDS = 0.1


class Watchdog:
    """Cuts the connections whose wait for an answer ran past its deadline."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waits: dict[object, tuple[float, Any]] = {}
        self.thread: threading.Thread | None = None

    @contextlib.contextmanager
    def bound(self, connection: Any, seconds: float | None = None) -> Iterator[None]:
        """While inside, ``connection`` (a psycopg connection) is cut if it
        is still inside ``seconds`` (``ANSWER_TIMEOUT_SECONDS``) from now."""
        token = object()
        deadline = time.monotonic() + (seconds or ANSWER_TIMEOUT_SECONDS)
        with self.lock:
            self.waits[token] = (deadline, connection)
            if self.thread is None or not self.thread.is_alive():  # also after a fork
                self.thread = threading.Thread(
                    target=self.run, name="db-answer-watchdog", daemon=True
                )
                self.thread.start()
        try:
            yield
        finally:
            with self.lock:
                self.waits.pop(token, None)

    def run(self) -> None:
        while True:
            time.sleep(TICK_SECONDS)
            now = time.monotonic()
            with self.lock:  # a connection still waiting is still open
                late = [token for token, (deadline, _) in self.waits.items() if deadline <= now]
                for token in late:
                    _, connection = self.waits.pop(token)
                    cut(connection)


def cut(connection: Any) -> None:
    """Shut the connection's socket down both ways: its wait ends at once."""
    with contextlib.suppress(Exception):
        sock = socket.socket(fileno=os.dup(connection.fileno()))
        try:
            sock.shutdown(socket.SHUT_RDWR)
        finally:
            sock.close()


WATCHDOG = Watchdog()


class BoundedConnection(psycopg.Connection):
    """The pool's connections (psycopg_pool's documented
    ``connection_class``): ``execute`` on the connection itself, which the
    pool's health check runs before it hands a connection out, is bounded."""

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        with WATCHDOG.bound(self):
            return super().execute(*args, **kwargs)


def bounded_execute(execute, sql, params, many, context):
    """A Django execute wrapper: the query's wait for the server is bounded."""
    with WATCHDOG.bound(context["cursor"].connection):
        return execute(sql, params, many, context)


class BoundedQueries:
    """Middleware: every query of the request through ``bounded_execute``
    (Django's documented ``connection.execute_wrapper``) on PostgreSQL."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        with contextlib.ExitStack() as stack:
            for connection in connections.all(initialized_only=False):
                if connection.vendor == "postgresql":
                    stack.enter_context(connection.execute_wrapper(bounded_execute))
            return self.get_response(request)
