"""Django's PostgreSQL backend, with a bound on every wait for the server.

Connections persist between requests. A link that goes silent while the
kernel still acknowledges the bytes (a frozen server, a stuck proxy) is not
cut by TCP timeouts, so a request on a kept connection would wait on it for
ever. Here each round trip waits at most ``OPTIONS["answer_timeout"]``
seconds (the settings make it the statement timeout plus five seconds);
past that the connection is closed and the call fails as a lost connection
does, which the gateway answers with a 503.

The health check Django runs on a kept connection before a request's first
query is skipped when the server answered on it within the last second (a
busy server would otherwise pay a round trip per request for it).
"""

from __future__ import annotations

import time

import psycopg
from django.db.backends.postgresql import base


class BoundedConnection(psycopg.Connection):
    """A psycopg connection whose every wait for the server is bounded."""

    answer_timeout: float | None = None
    #: ``time.monotonic()`` of the server's last answer.
    answered_at = 0.0

    def wait(self, gen, interval=0.1, timeout=None):
        if timeout is not None:  # psycopg's own bounded waits keep their meaning
            return super().wait(gen, interval=interval, timeout=timeout)
        timeout = self.answer_timeout
        try:
            answer = super().wait(gen, interval=interval, timeout=timeout)
        except psycopg.errors._WaitTimeout:  # psycopg's own signal for a bounded wait
            self.pgconn.finish()  # mid-protocol: the connection cannot be used again
            raise psycopg.OperationalError(
                f"the database did not answer within {timeout:g} seconds"
            ) from None
        self.answered_at = time.monotonic()
        return answer


class _Psycopg:
    """psycopg as the backend sees it, connecting with ``BoundedConnection``."""

    def __getattr__(self, name):
        return getattr(psycopg, name)

    @staticmethod
    def connect(*args, answer_timeout=None, **kwargs):
        connection = BoundedConnection.connect(*args, **kwargs)
        connection.answer_timeout = answer_timeout
        return connection


class DatabaseWrapper(base.DatabaseWrapper):
    Database = _Psycopg()
    #: A kept connection the server answered on this recently is taken as
    #: alive: the health check (a ``SELECT 1`` round trip before each
    #: request's first query) only runs on connections idle for longer.
    recently_alive_seconds = 1.0

    def is_usable(self):
        connection = self.connection
        answered_at = getattr(connection, "answered_at", 0.0)
        if (
            not self.errors_occurred  # after an error, always ask the server
            and connection is not None
            and not connection.closed
            and time.monotonic() - answered_at < self.recently_alive_seconds
        ):
            return True
        return super().is_usable()
