"""A webhook receiver gets one total deadline per attempt, however it
trickles its answer, and a slow receiver does not hold up the others:
real local HTTP servers, one that sends its status line and then one
header byte at a time, one that answers at once."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from ftproxy.models import ApiKey, WebhookDelivery, WebhookEvent, WebhookState
from ftproxy.services.accounts import webhooks
from ftproxy.services.ledger.status import change_status
from tests.factories import ledger_job
from tests.services.test_webhooks import remote

pytestmark = pytest.mark.django_db

#: The trickler sends a byte this often: never long enough for a per-read timeout.
TRICKLE_SECONDS = 0.2


class Trickler:
    """Takes the request, answers ``HTTP/1.1 200 OK`` and then a header one
    byte at a time, for up to a minute; notes when each connection ended."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.server.getsockname()[1]}/hook"
        self.ended: list[float] = []
        self.running = True
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while self.running:
            try:
                conn, _ = self.server.accept()
            except OSError:
                return
            threading.Thread(target=self._trickle, args=(conn,), daemon=True).start()

    def _trickle(self, conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(b"HTTP/1.1 200 OK\r\nX-Slow: ")
                for _ in range(int(60 / TRICKLE_SECONDS)):
                    if not self.running:
                        break
                    conn.sendall(b"a")
                    time.sleep(TRICKLE_SECONDS)
            except OSError:
                pass  # the gateway hung up
            self.ended.append(time.monotonic())

    def close(self) -> None:
        self.running = False
        self.server.close()


class Quick(BaseHTTPRequestHandler):
    arrived: list[float] = []

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["content-length"]))
        Quick.arrived.append(time.monotonic())
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def trickler() -> Iterator[Trickler]:
    server = Trickler()
    yield server
    server.close()


@pytest.fixture
def quick() -> Iterator[str]:
    Quick.arrived = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Quick)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()
    server.server_close()


def key_with_event(name: str, url: str) -> ApiKey:
    """A key whose receiver is ``url``, with one event due."""
    key, _ = ApiKey.create_key(name)
    webhooks.set_webhook_url(key, url)
    job = ledger_job(f"ftjob-{name}", "queued", provider="openai", owner=key)
    change_status(job, remote("running", job.public_id), source="sync")
    return key


def test_a_trickling_receiver_is_cut_off_at_the_deadline_and_others_go_out_meanwhile(
    gateway_config, trickler, quick
):
    gateway_config({})
    slow = key_with_event("slow", trickler.url)  # queued first: claimed first
    fast = key_with_event("fast", quick)
    started = time.monotonic()

    result = webhooks.deliver_due(timeout=1.0)

    elapsed = time.monotonic() - started
    assert elapsed < 3, elapsed  # the trickle would go on for a minute
    assert (result.attempted, result.delivered, result.retrying) == (2, 1, 1)
    assert Quick.arrived and Quick.arrived[0] - started < 0.9  # not behind the slow one
    attempt = WebhookDelivery.objects.get(event__key=slow)
    assert not attempt.succeeded and attempt.status_code is None
    assert "within 1 s" in attempt.error and attempt.duration_ms < 2500
    assert WebhookEvent.objects.get(key=slow).state == WebhookState.PENDING  # retried later
    assert WebhookEvent.objects.get(key=fast).state == WebhookState.DELIVERED
    deadline = time.monotonic() + 2
    while not trickler.ended and time.monotonic() < deadline:
        time.sleep(0.05)
    assert trickler.ended and trickler.ended[0] - started < 2.5  # the gateway hung up


def test_a_round_with_a_budget_starts_no_attempt_once_it_is_spent(gateway_config, trickler):
    gateway_config({})
    for n in range(3):
        key_with_event(f"slow{n}", trickler.url)
    started = time.monotonic()

    result = webhooks.deliver_due(timeout=1.0, budget_seconds=0.5, workers=1)

    assert time.monotonic() - started < 2.5
    assert result.attempted == 1 and result.retrying == 1
    waiting = WebhookEvent.objects.filter(attempts=0)
    assert waiting.count() == 2
    assert all(e.state == WebhookState.PENDING and not e.lease_owner for e in waiting)
