"""PostgreSQL through Django's pool, with libpq's timeouts and a bound on
every wait for an answer (``gateway_site.database``)."""

from __future__ import annotations

import time

import psycopg
import pytest
from django.db import OperationalError, connection
from django.http import HttpResponse
from django.test import RequestFactory

from gateway_site import database
from gateway_site.database import WATCHDOG, BoundedConnection, BoundedQueries

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _postgresql_only():
    if connection.vendor != "postgresql":
        pytest.skip("the PostgreSQL setup")
    connection.ensure_connection()


def sleep_query() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_sleep(3)")


def assert_a_new_connection_works(raw) -> None:
    connection.close()  # what Django does at the end of the request: back to the pool
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        assert cursor.fetchone() == (1,)
    assert connection.connection is not raw  # the pool dropped the cut one


def test_connections_come_from_the_pool_with_the_configured_timeouts():
    options = connection.settings_dict["OPTIONS"]
    assert connection.pool is not None
    assert options["pool"]["connection_class"] is BoundedConnection
    assert isinstance(connection.connection, BoundedConnection)
    assert connection.settings_dict["CONN_HEALTH_CHECKS"]  # the pool checks before handing out
    with connection.cursor() as cursor:
        cursor.execute("SHOW statement_timeout")
        assert cursor.fetchone() == ("30s",)
    assert connection.connection.info.get_parameters()["connect_timeout"] == str(
        options["connect_timeout"]
    )


def test_a_query_of_a_request_waiting_past_the_answer_timeout_fails_fast(monkeypatch):
    monkeypatch.setattr(database, "ANSWER_TIMEOUT_SECONDS", 0.3)
    raw = connection.connection

    def view(request):
        sleep_query()
        return HttpResponse()

    started = time.monotonic()
    with pytest.raises(OperationalError):
        BoundedQueries(view)(RequestFactory().get("/"))
    assert time.monotonic() - started < 2
    assert raw.closed or raw.broken
    assert_a_new_connection_works(raw)


def test_the_pools_health_check_is_bounded(monkeypatch):
    monkeypatch.setattr(database, "ANSWER_TIMEOUT_SECONDS", 0.3)
    raw = connection.connection
    started = time.monotonic()
    with pytest.raises(psycopg.OperationalError):
        raw.execute("SELECT pg_sleep(3)")  # what the check runs: Connection.execute
    assert time.monotonic() - started < 2
    assert raw.broken
    assert_a_new_connection_works(raw)


def test_a_connection_answering_in_time_is_left_alone():
    raw = connection.connection
    with WATCHDOG.bound(raw, 5):
        sleep = raw.execute("SELECT pg_sleep(0.2)")
        assert sleep.fetchone() == ("",)
    assert not raw.broken
    assert not WATCHDOG.waits
