"""The sync watcher outlives a database outage: a round that fails is
logged, its connections closed, and the next round comes after a backoff.
Readiness says when the watcher's last round is late, where one is
expected (``ftproxy_settings.sync_watcher``)."""

from __future__ import annotations

import io
import os
import signal
import threading
import time
from datetime import timedelta

import pytest
import responses
from django.core.management import call_command
from django.db import OperationalError, connection
from django.utils import timezone

from ftproxy.management.commands.ftproxy_sync_jobs import MAX_BACKOFF_SECONDS, backoff
from ftproxy.models import FineTuningJob, SyncRound
from tests.factories import ledger_job
from tests.services.test_sync import SUMMARY, Upstream, WatchedOutput, openai_entry

FAILED_ROUND = "sync round failed (OperationalError"


class Outage:
    """Every query fails (the database is gone) until ``rounds`` rounds
    have failed, as the command's error output counts them."""

    def __init__(self, errors: io.StringIO, rounds: int):
        self.errors = errors
        self.rounds = rounds

    def __call__(self, execute, sql, params, many, context):
        if self.errors.getvalue().count(FAILED_ROUND) < self.rounds:
            raise OperationalError("server closed the connection unexpectedly")
        return execute(sql, params, many, context)


@pytest.mark.django_db(transaction=True)  # the watcher closes its connection
def test_the_watcher_logs_a_failed_round_and_goes_on_after_a_backoff(gateway_config):
    if threading.current_thread() is not threading.main_thread():
        pytest.skip("signal handlers can only be installed from the main thread")
    gateway_config({"finetune_settings": [openai_entry()]})
    ledger_job("ftjob-1", "queued")
    out, errors = WatchedOutput(), io.StringIO()
    default = signal.getsignal(signal.SIGTERM)

    def stop_after_a_good_round() -> None:
        if out.summarised.wait(20) and signal.getsignal(signal.SIGTERM) is not default:
            os.kill(os.getpid(), signal.SIGTERM)

    stopper = threading.Thread(target=stop_after_a_good_round)
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mocked:
        Upstream(mocked).jobs = {"ftjob-1": "running"}
        stopper.start()
        started = time.monotonic()
        with connection.execute_wrapper(Outage(errors, rounds=2)):
            call_command(
                "ftproxy_sync_jobs", "--watch", "--interval", "0.5", stdout=out, stderr=errors
            )
        stopper.join()

    text = errors.getvalue()
    assert text.count(FAILED_ROUND) == 2
    assert "1 in a row, next round in 0.5 s" in text and "2 in a row, next round in 1 s" in text
    assert time.monotonic() - started >= 1.5  # the backoff was waited
    assert [m.groups() for m in SUMMARY.finditer(out.getvalue())] == [("1", "1", "0")]
    assert "Stopped." in out.getvalue()
    assert FineTuningJob.objects.get().status == "running"
    assert SyncRound.objects.count() == 1


def test_the_backoff_doubles_up_to_a_bound():
    assert [backoff(n, 10) for n in (1, 2, 3)] == [10, 20, 40]
    assert backoff(50, 10) == MAX_BACKOFF_SECONDS
    assert backoff(3, 3600) == 3600  # never shorter than the interval


def test_a_failed_round_without_watch_still_fails_the_command(db, gateway_config):
    gateway_config({"finetune_settings": [openai_entry()]})
    errors = io.StringIO()

    def down(execute, sql, params, many, context):
        raise OperationalError("server closed the connection unexpectedly")

    with connection.execute_wrapper(down), pytest.raises(OperationalError):
        call_command("ftproxy_sync_jobs", stdout=io.StringIO(), stderr=errors)


def watcher(gateway_config, expected: bool) -> None:
    gateway_config(
        {
            "finetune_settings": [openai_entry()],
            "ftproxy_settings": {"sync_interval_seconds": 10, "sync_watcher": expected},
        }
    )


def round_finished(seconds_ago: float) -> None:
    finished = timezone.now() - timedelta(seconds=seconds_ago)
    SyncRound.objects.create(started=finished - timedelta(seconds=1), finished=finished)


# Committed: on PostgreSQL readiness reads on a connection of its own.
@pytest.mark.django_db(transaction=True)
def test_readiness_fails_when_the_expected_watchers_last_round_is_late(client, gateway_config):
    watcher(gateway_config, expected=True)
    round_finished(45)  # more than 3 intervals of 10 s

    response = client.get("/health/readiness")

    assert response.status_code == 503
    body = response.json()
    assert (body["status"], body["db"], body["sync"]) == ("unhealthy", "connected", "late")
    assert "45 s ago" in body["error"]

    round_finished(2)
    assert client.get("/health/readiness").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_readiness_fails_while_an_expected_watcher_never_finished_a_round(client, gateway_config):
    watcher(gateway_config, expected=True)
    response = client.get("/health/readiness")
    assert response.status_code == 503
    assert response.json()["error"] == "no sync round was ever recorded"


@pytest.mark.django_db(transaction=True)
def test_without_a_watcher_readiness_ignores_the_sync(client, gateway_config):
    watcher(gateway_config, expected=False)
    round_finished(3600)
    response = client.get("/health/readiness")
    assert response.status_code == 200
    assert response.json() == {"status": "healthy", "db": "connected"}
