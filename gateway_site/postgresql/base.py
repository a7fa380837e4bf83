"""Django's PostgreSQL backend, with a bound on every wait for the server.

Connections persist between requests. A link that goes silent while the
kernel still acknowledges the bytes (a frozen server, a stuck proxy) is not
cut by TCP timeouts, so a request on a kept connection would wait on it for
ever. Here each round trip waits at most ``OPTIONS["answer_timeout"]``
seconds (the settings make it the statement timeout plus five seconds);
past that the connection is closed and the call fails as a lost connection
does, which the gateway answers with a 503.
"""

from __future__ import annotations

import psycopg
from django.db.backends.postgresql import base


class BoundedConnection(psycopg.Connection):
    """A psycopg connection whose every wait for the server is bounded."""

    answer_timeout: float | None = None

    def wait(self, gen, interval=0.1, timeout=None):
        if timeout is None:
            timeout = self.answer_timeout
        try:
            return super().wait(gen, interval=interval, timeout=timeout)
        except psycopg.errors._WaitTimeout:  # psycopg's own signal for a bounded wait
            self.pgconn.finish()  # mid-protocol: the connection cannot be used again
            raise psycopg.OperationalError(
                f"the database did not answer within {timeout:g} seconds"
            ) from None


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
