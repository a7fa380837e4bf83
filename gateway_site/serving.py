"""Serving the gateway so that slow or lying clients hold only their own
connection, never a worker thread.

uvicorn reads each request on its event loop, and the whole body is spooled
(to disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE``) before a thread runs the
view. Around that:

- ``GatewayHttpProtocol``: uvicorn's HTTP protocol (httptools, else h11)
  with a header read timeout (a client trickling its request line or
  headers is cut off);
- ``GuardedApplication``: a body read timeout between chunks (408), the
  size limit before reading (413), a full disk (507), all in OpenAI's
  error shape;
- ``ThreadedWSGIBridge``: spools the body into ``FILE_UPLOAD_TEMP_DIR``
  (cleaned of dead requests' files), gives a chunked body its length, so
  chunked uploads work, and runs Django's WSGI handler on a fixed pool of
  threads that keep their database connections.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds a new connection has to send its request line and headers.
HEADER_TIMEOUT_SECONDS = float(os.environ.get("FTPROXY_HEADER_TIMEOUT_SECONDS", 15))
#: Seconds the body may pause between two chunks.
BODY_IDLE_TIMEOUT_SECONDS = float(os.environ.get("FTPROXY_BODY_TIMEOUT_SECONDS", 30))
#: Threads per worker process that run requests (each keeps its database
#: connection): how many requests one process works on at once.
REQUEST_THREADS = int(os.environ.get("FTPROXY_THREADS", 8))
#: Multipart overhead allowed on top of ``max_upload_mb``.
BODY_SLACK_BYTES = 1024 * 1024


class _HeaderTimeout:
    """Closes a connection whose first request's headers do not arrive
    within ``HEADER_TIMEOUT_SECONDS`` (with a 408). Later requests on a
    kept-alive connection are bounded by uvicorn's own keep-alive timeout,
    which runs until their headers are in."""

    header_timeout = HEADER_TIMEOUT_SECONDS
    _header_timer = None

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _headers_in(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def connection_lost(self, exc) -> None:
        self._headers_in()
        super().connection_lost(exc)

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.cycle is None and not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
                b"connection: close\r\ncontent-length: %d\r\n\r\n%s"
                % (len(HEADERS_TOO_SLOW), HEADERS_TOO_SLOW)
            )
            self.transport.close()


class GatewayH11Protocol(_HeaderTimeout, H11Protocol):
    """uvicorn's pure-Python h11 protocol with the header timeout."""

    def handle_events(self) -> None:
        super().handle_events()
        if self.cycle is not None:
            self._headers_in()


try:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
except ImportError:  # httptools not installed: h11 it is
    GatewayHttpProtocol = GatewayH11Protocol
else:

    class GatewayHttpToolsProtocol(_HeaderTimeout, HttpToolsProtocol):
        """uvicorn's httptools (C parser) protocol with the header timeout."""

        def on_headers_complete(self) -> None:
            self._headers_in()
            super().on_headers_complete()

    #: What ``--http`` names: the C parser when it is there.
    GatewayHttpProtocol = GatewayHttpToolsProtocol


def _error_body(message: str, code: str) -> bytes:
    return json.dumps(
        {
            "error": {
                "message": message,
                "type": "invalid_request_error",
                "param": None,
                "code": code,
            }
        }
    ).encode()


HEADERS_TOO_SLOW = _error_body(
    f"The request headers did not arrive within {HEADER_TIMEOUT_SECONDS:g} seconds.",
    "request_timeout",
)


class _BodyTimeout(Exception):
    pass


class _BodyTooLarge(Exception):
    pass


async def _answer(send, status: int, message: str, code: str, error_type: str) -> None:
    body = json.dumps(
        {"error": {"message": message, "type": error_type, "param": None, "code": code}}
    ).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


class GuardedApplication:
    """ASGI middleware: the body's size limit and read timeout, and a full
    disk while spooling it, answered in OpenAI's error shape."""

    def __init__(self, app, *, max_body_bytes, idle_seconds: float = BODY_IDLE_TIMEOUT_SECONDS):
        self.app = app
        self.max_body_bytes = max_body_bytes  # a callable: the config may change in tests
        self.idle_seconds = idle_seconds

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.max_body_bytes()
        declared = dict(scope.get("headers") or []).get(b"content-length", b"")
        if declared.isdigit() and int(declared) > limit:
            return await _answer(
                send,
                413,
                f"The request is {int(declared)} bytes; this gateway accepts bodies up to "
                f"{limit} bytes (ftproxy_settings.max_upload_mb).",
                "request_too_large",
                "invalid_request_error",
            )
        started = False
        body_done = False
        received = 0

        async def guarded_receive():
            nonlocal body_done, received
            if body_done:  # Django's disconnect listener: no timeout there
                return await receive()
            try:
                async with asyncio.timeout(self.idle_seconds):  # a timer, not a task
                    message = await receive()
            except TimeoutError:
                raise _BodyTimeout from None
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise _BodyTooLarge
                body_done = not message.get("more_body", False)
            return message

        async def tracked_send(message):
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracked_send)
        except _BodyTimeout:
            if not started:
                await _answer(
                    send,
                    408,
                    f"The request body paused for more than {self.idle_seconds:g} seconds.",
                    "request_timeout",
                    "invalid_request_error",
                )
        except _BodyTooLarge:
            if not started:
                await _answer(
                    send,
                    413,
                    f"The request body is larger than {limit} bytes "
                    "(ftproxy_settings.max_upload_mb).",
                    "request_too_large",
                    "invalid_request_error",
                )
        except OSError as exc:
            if exc.errno != errno.ENOSPC or started:
                raise
            await _answer(
                send,
                507,
                "The gateway's disk is full: the request body could not be stored. "
                "Try again later.",
                "insufficient_storage",
                "server_error",
            )


class ThreadedWSGIBridge:
    """The ASGI application: reads each request's body on the event loop
    (spooled into ``FILE_UPLOAD_TEMP_DIR``, so a slow client holds only its
    connection), then runs Django's WSGI handler for the whole request on
    one of ``threads`` long-lived threads.

    One thread per request from start to end, and the same few threads for
    every request: each keeps its database connection between requests
    (``CONN_MAX_AGE``), and no request pays a thread hop per middleware, as
    Django's own ASGI handler does. A chunked body is given the length it
    turned out to have. Header names with an underscore are dropped, as
    Django's development server and gunicorn do, so that ``X_Forwarded_Proto``
    cannot pass for ``X-Forwarded-Proto``.
    """

    def __init__(self, wsgi_app, *, threads: int):
        self.wsgi_app = wsgi_app
        self.threads = threads
        self.executor = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="request")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return  # lifespan is off; websockets are not served
        body = await self._read_body(receive)
        if body is None:
            return  # the client went away before its body was in
        loop = asyncio.get_running_loop()
        try:
            status, headers, content, stream = await loop.run_in_executor(
                self.executor, self._respond, self._environ(scope, body)
            )
            if stream is None:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await send({"type": "http.response.body", "body": content})
                return
            try:
                await send({"type": "http.response.start", "status": status, "headers": headers})
                await self._stream(loop, stream, receive, send)
            finally:
                await loop.run_in_executor(self.executor, stream.close)
        finally:
            body.close()

    @staticmethod
    async def _read_body(receive):
        body_file = tempfile.SpooledTemporaryFile(
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
            mode="w+b",
            dir=settings.FILE_UPLOAD_TEMP_DIR,
        )
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    body_file.close()
                    return None
                if chunk := message.get("body"):
                    body_file.write(chunk)
                if not message.get("more_body", False):
                    break
        except BaseException:
            body_file.close()  # an unnamed temp file: closing removes it
            raise
        body_file.seek(0)
        return body_file

    @staticmethod
    def _environ(scope, body) -> dict:
        size = body.seek(0, 2)
        body.seek(0)
        server = scope.get("server") or ("localhost", 80)
        client = scope.get("client") or ("", 0)
        root_path = scope.get("root_path", "")
        path = scope["path"]
        if root_path and path.startswith(root_path):  # the ASGI path includes the root path
            path = path[len(root_path) :] or "/"
        environ = {
            "REQUEST_METHOD": scope["method"],
            "SCRIPT_NAME": root_path.encode().decode("latin-1"),
            "PATH_INFO": path.encode().decode("latin-1"),
            "QUERY_STRING": scope.get("query_string", b"").decode("latin-1"),
            "SERVER_NAME": str(server[0]),
            "SERVER_PORT": str(server[1] or 80),
            "SERVER_PROTOCOL": f"HTTP/{scope.get('http_version', '1.1')}",
            "REMOTE_ADDR": str(client[0]),
            "REMOTE_PORT": str(client[1]),
            "wsgi.version": (1, 0),
            "wsgi.url_scheme": scope.get("scheme", "http"),
            "wsgi.input": body,
            "wsgi.errors": sys.stderr,
            "wsgi.multithread": True,
            "wsgi.multiprocess": True,
            "wsgi.run_once": False,
        }
        for raw_name, raw_value in scope.get("headers") or ():
            name = raw_name.decode("latin-1")
            if "_" in name:
                continue
            value = raw_value.decode("latin-1")
            if name == "content-length":
                continue  # the body's real size, below
            key = (
                "CONTENT_TYPE"
                if name == "content-type"
                else "HTTP_" + name.upper().replace("-", "_")
            )
            environ[key] = f"{environ[key]},{value}" if key in environ else value
        if size or scope["method"] in ("POST", "PUT", "PATCH"):
            environ["CONTENT_LENGTH"] = str(size)
        return environ

    def _respond(self, environ):
        """On a request thread: the whole of Django's handling, and for an
        answer held in memory, its body and its close (which ends the
        request for Django: ``request_finished``)."""
        started = []

        def start_response(status, headers, exc_info=None):
            started[:] = [status, headers]

        result = self.wsgi_app(environ, start_response)
        status, headers = started
        encoded = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers
        ]
        if getattr(result, "streaming", False):
            return int(status[:3]), encoded, None, result
        try:
            content = b"".join(result)
        finally:
            result.close()
        return int(status[:3]), encoded, content, None

    async def _stream(self, loop, response, receive, send) -> None:
        """A streamed answer, each chunk read on a request thread; stops
        reading when the client goes away."""
        chunks = iter(response)
        gone = asyncio.ensure_future(_disconnected(receive))
        try:
            while not gone.done():
                chunk = await loop.run_in_executor(self.executor, next, chunks, _END)
                if chunk is _END:
                    break
                if chunk:
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            else:
                return
            await send({"type": "http.response.body", "body": b""})
        finally:
            gone.cancel()


_END = object()


async def _disconnected(receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass
