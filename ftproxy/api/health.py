"""Health endpoints: no auth, no provider calls.

``liveliness`` touches nothing (not the database, not the session): it says
the process answers. ``readiness`` checks the database on a connection of
its own with short timeouts, so a frozen database link is a 503 within
about ``READINESS_TIMEOUT_SECONDS``, never a hung probe; where a sync
watcher is expected (``ftproxy_settings.sync_watcher``) it is a 503 too
when the watcher's last round is late (``services.jobs.sync_health``).
"""

from django.db import connection
from django.http import JsonResponse

from ..services.jobs.sync_health import last_round_finished, last_round_sql, watcher_late

#: How long readiness waits for the database (connect, and the query).
READINESS_TIMEOUT_SECONDS = 1


def liveliness(request):
    return JsonResponse({"status": "healthy"})


def _check_database():
    """The time the last sync round finished (None: never), read on a
    connection that cannot hang; raises when the database is unreachable."""
    if connection.vendor != "postgresql":
        # A local file (SQLite): nothing on the way can freeze.
        return last_round_finished()
    params = connection.get_connection_params()
    timeout_ms = READINESS_TIMEOUT_SECONDS * 1000
    params.update(
        connect_timeout=max(1, READINESS_TIMEOUT_SECONDS),
        tcp_user_timeout=timeout_ms,
        options=f"-c statement_timeout={timeout_ms}",
    )
    params.pop("pool", None)
    # A connection of its own, never one from a pool (its check could wait longer).
    probe = connection.Database.connect(**params)
    try:
        return probe.execute(last_round_sql()).fetchone()[0]
    finally:
        probe.close()


def readiness(request):
    try:
        last_round = _check_database()
    except Exception as exc:  # any database failure means "not ready"
        return JsonResponse(
            {"status": "unhealthy", "db": "disconnected", "error": type(exc).__name__}, status=503
        )
    late = watcher_late(last_round)
    if late:
        return JsonResponse(
            {"status": "unhealthy", "db": "connected", "sync": "late", "error": late}, status=503
        )
    return JsonResponse({"status": "healthy", "db": "connected"})
