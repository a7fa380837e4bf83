"""The PostgreSQL backend's bounded waits and its health check on kept
connections (``gateway_site.postgresql``)."""

from __future__ import annotations

import pytest
from django.db import OperationalError, connection

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL backend")
    connection.ensure_connection()


def test_a_wait_past_the_answer_timeout_fails_and_drops_the_connection():
    raw = connection.connection
    raw.answer_timeout = 0.2
    with pytest.raises(OperationalError, match="did not answer within 0.2 seconds"):
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_sleep(2)")
    assert raw.closed
    connection.close()
    with connection.cursor() as cursor:  # a new connection, with the configured bound
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.connection is not raw
    assert (
        connection.connection.answer_timeout
        == connection.settings_dict["OPTIONS"]["answer_timeout"]
    )


def test_the_health_check_runs_only_on_a_connection_idle_for_a_while():
    raw = connection.connection
    raw.answered_at = 0.0  # idle for long: checked with a round trip
    assert connection.is_usable()
    checked = raw.answered_at
    assert checked > 0.0
    assert connection.is_usable()  # answered just now: no round trip
    assert raw.answered_at == checked


def test_after_an_error_the_connection_is_always_checked_with_the_server():
    raw = connection.connection
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    recent = raw.answered_at
    connection.errors_occurred = True  # e.g. the server said it is shutting down
    try:
        assert connection.is_usable()
        assert raw.answered_at > recent  # it asked, though the server answered just now
    finally:
        connection.errors_occurred = False
