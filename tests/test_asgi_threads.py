"""The ASGI handler runs requests' Django code on a few reused threads, so
a thread (and its SQLite connection) serves request after request instead
of one new thread per request."""

from __future__ import annotations

import asyncio
import threading

import pytest
from asgiref.testing import ApplicationCommunicator
from django.core.signals import request_started

from gateway_site.serving import GatewayASGIHandler

SCOPE = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "GET",
    "scheme": "http",
    "path": "/health/liveliness",
    "raw_path": b"/health/liveliness",
    "root_path": "",
    "query_string": b"",
    "headers": [(b"host", b"testserver")],
    "client": ("127.0.0.1", 50000),
    "server": ("testserver", 80),
}


async def get(handler) -> int:
    communicator = ApplicationCommunicator(handler, dict(SCOPE))
    await communicator.send_input({"type": "http.request", "body": b""})
    start = await communicator.receive_output(timeout=10)
    await communicator.receive_output(timeout=10)  # the body
    await communicator.wait(timeout=10)
    return start["status"]


@pytest.mark.django_db(transaction=True)
def test_requests_run_on_a_few_reused_threads():
    threads: list[str] = []

    def record(**kwargs):  # a sync receiver: it runs on the request's thread
        threads.append(threading.current_thread().name)

    request_started.connect(record, weak=False)
    try:
        handler = GatewayASGIHandler(threads=2)

        async def run() -> list[int]:
            statuses = [await get(handler) for _ in range(6)]  # one after another
            statuses += await asyncio.gather(*(get(handler) for _ in range(6)))  # at once
            return statuses

        statuses = asyncio.run(run())
    finally:
        request_started.disconnect(record)
    assert statuses == [200] * 12
    assert len(threads) == 12
    assert all(name.startswith("request-") for name in threads), threads
    assert len(set(threads)) <= 2, threads  # reused, never one per request
