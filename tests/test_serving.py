"""The ASGI-to-WSGI bridge the server runs Django with (``gateway_site.serving``)."""

from __future__ import annotations

import asyncio
import threading

import pytest

from gateway_site.serving import ThreadedWSGIBridge


def scope(path="/v1/x", method="GET", headers=(), query=b""):
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "root_path": "",
        "query_string": query,
        "headers": list(headers),
        "server": ("127.0.0.1", 4000),
        "client": ("127.0.0.1", 50000),
    }


def call(app, request_scope, chunks=(b"",), *, disconnect_after=None):
    """Runs one request through ``app``; returns the messages it sent."""
    sent = []

    async def run():
        pending = [
            {"type": "http.request", "body": chunk, "more_body": i < len(chunks) - 1}
            for i, chunk in enumerate(chunks)
        ]
        gone = asyncio.Event()

        async def receive():
            if pending:
                return pending.pop(0)
            await gone.wait()
            return {"type": "http.disconnect"}

        async def send(message):
            sent.append(message)
            bodies = [m for m in sent if m["type"] == "http.response.body"]
            if disconnect_after is not None and len(bodies) >= disconnect_after:
                gone.set()

        await app(request_scope, receive, send)

    asyncio.run(run())
    return sent


class Recorder:
    """A WSGI app that answers with what it saw."""

    def __init__(self, body=b"ok", stream=None):
        self.environs, self.threads, self.closed = [], [], 0
        self.body, self.stream = body, stream

    def __call__(self, environ, start_response):
        self.environs.append(dict(environ, body=environ["wsgi.input"].read()))
        self.threads.append(threading.get_ident())
        start_response("201 Created", [("Content-Type", "text/plain"), ("X-One", "1")])
        recorder = self

        class Result:
            streaming = recorder.stream is not None

            def __iter__(self):
                return iter(recorder.stream if self.streaming else [recorder.body])

            def close(self):
                recorder.closed += 1

        return Result()


def test_a_request_reaches_wsgi_as_a_wsgi_server_would_pass_it():
    app = Recorder()
    sent = call(
        ThreadedWSGIBridge(app, threads=2),
        scope(
            "/v1/files/ü",
            "POST",
            headers=[
                (b"content-type", b"application/json"),
                (b"authorization", b"Bearer sk-1"),
                (b"x-many", b"a"),
                (b"x-many", b"b"),
                (b"x_forwarded_proto", b"https"),  # an underscore: dropped
            ],
            query=b"limit=2",
        ),
        chunks=(b'{"a":', b"1}"),  # chunked: no content-length
    )
    environ = app.environs[0]
    assert environ["REQUEST_METHOD"] == "POST"
    assert environ["PATH_INFO"] == "/v1/files/ü".encode().decode("latin-1")
    assert environ["QUERY_STRING"] == "limit=2"
    assert environ["CONTENT_TYPE"] == "application/json"
    assert environ["CONTENT_LENGTH"] == "7" and environ["body"] == b'{"a":1}'
    assert environ["HTTP_AUTHORIZATION"] == "Bearer sk-1"
    assert environ["HTTP_X_MANY"] == "a,b"
    assert "HTTP_X_FORWARDED_PROTO" not in environ
    assert environ["wsgi.url_scheme"] == "http" and environ["REMOTE_ADDR"] == "127.0.0.1"
    assert sent[0] == {
        "type": "http.response.start",
        "status": 201,
        "headers": [(b"content-type", b"text/plain"), (b"x-one", b"1")],
    }
    assert sent[1] == {"type": "http.response.body", "body": b"ok"}
    assert app.closed == 1


def test_requests_run_on_the_same_few_threads():
    app = Recorder()
    bridge = ThreadedWSGIBridge(app, threads=2)
    for _ in range(20):
        call(bridge, scope())
    assert len(set(app.threads)) <= 2  # the pool's threads, not one per request
    assert threading.get_ident() not in app.threads


def test_a_streamed_answer_goes_out_chunk_by_chunk_and_is_closed():
    app = Recorder(stream=[b"a", b"", b"b"])
    sent = call(ThreadedWSGIBridge(app, threads=1), scope())
    bodies = [m for m in sent if m["type"] == "http.response.body"]
    assert bodies == [
        {"type": "http.response.body", "body": b"a", "more_body": True},
        {"type": "http.response.body", "body": b"b", "more_body": True},
        {"type": "http.response.body", "body": b""},
    ]
    assert app.closed == 1


def test_a_stream_stops_when_the_client_goes_away():
    produced = []

    def endless():
        while True:
            produced.append(1)
            yield b"x" * 10

    app = Recorder(stream=endless())
    sent = call(ThreadedWSGIBridge(app, threads=1), scope(), disconnect_after=3)
    assert app.closed == 1
    assert len(produced) < 50  # stopped, not read to the end
    assert sent[-1].get("more_body") is True  # no end of body after the client left


def test_a_client_gone_before_its_body_is_in_runs_nothing():
    app = Recorder()

    async def run():
        messages = [
            {"type": "http.request", "body": b"par", "more_body": True},
            {"type": "http.disconnect"},
        ]

        async def receive():
            return messages.pop(0)

        async def send(message):  # pragma: no cover - nothing may be sent
            raise AssertionError(message)

        await ThreadedWSGIBridge(app, threads=1)(scope(method="POST"), receive, send)

    asyncio.run(run())
    assert app.environs == []


@pytest.mark.django_db
def test_django_answers_through_the_bridge():
    from django.core.handlers.wsgi import WSGIHandler

    sent = call(ThreadedWSGIBridge(WSGIHandler(), threads=1), scope("/health/liveliness"))
    assert sent[0]["status"] == 200


def test_a_root_path_is_the_script_name_and_not_part_of_the_path():
    app = Recorder()
    request = {**scope("/gateway/v1/files"), "root_path": "/gateway"}
    call(ThreadedWSGIBridge(app, threads=1), request)
    assert app.environs[0]["SCRIPT_NAME"] == "/gateway"
    assert app.environs[0]["PATH_INFO"] == "/v1/files"
