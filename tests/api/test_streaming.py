"""A streamed answer closes what it streams from when the server closes it."""

from __future__ import annotations

import pytest

from ftproxy.api.streaming import ChunkedStreamingResponse

# Closing a response sends request_finished (which closes old connections).
pytestmark = pytest.mark.django_db


def test_on_close_runs_once_when_the_response_is_closed():
    calls = []
    response = ChunkedStreamingResponse(iter([b"a", b"b"]), on_close=lambda: calls.append(1))
    assert b"".join(response) == b"ab"
    assert calls == []
    response.close()
    response.close()
    assert calls == [1]


def test_a_failing_on_close_still_closes_the_response():
    def fail():
        raise OSError("gone")

    response = ChunkedStreamingResponse(iter([b"a"]), on_close=fail)
    response.close()
    assert response.closed
