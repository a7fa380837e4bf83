"""Serving the gateway so that slow or lying clients hold only their own
connection, never a worker thread.

uvicorn reads each request on its event loop; Django's ASGI handler spools
the whole body (to disk past ``FILE_UPLOAD_MAX_MEMORY_SIZE``) before a
thread runs the view. Around that:

- ``GatewayHttpProtocol``: uvicorn's HTTP protocol (httptools, else h11)
  with a header read timeout (a client trickling its request line or
  headers is cut off);
- ``GuardedApplication``: a body read timeout between chunks (408), the
  size limit before reading (413), a full disk (507), all in OpenAI's
  error shape;
- ``GatewayASGIHandler``: Django's handler, spooling into
  ``FILE_UPLOAD_TEMP_DIR`` (cleaned of dead requests' files) and giving a
  chunked body its length, so chunked uploads work.
"""

from __future__ import annotations

import asyncio
import errno
import json
import os
import tempfile

from django.conf import settings
from django.core.handlers.asgi import ASGIHandler
from uvicorn.protocols.http.h11_impl import H11Protocol

#: Seconds a new connection has to send its request line and headers.
HEADER_TIMEOUT_SECONDS = float(os.environ.get("FTPROXY_HEADER_TIMEOUT_SECONDS", 15))
#: Seconds the body may pause between two chunks.
BODY_IDLE_TIMEOUT_SECONDS = float(os.environ.get("FTPROXY_BODY_TIMEOUT_SECONDS", 30))
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
                message = await asyncio.wait_for(receive(), self.idle_seconds)
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


class GatewayASGIHandler(ASGIHandler):
    """Django's ASGI handler, spooling bodies into ``FILE_UPLOAD_TEMP_DIR``
    (closed and removed if the disk fills up) and giving a chunked body the
    length it turned out to have."""

    async def read_body(self, receive):
        body_file = tempfile.SpooledTemporaryFile(
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE,
            mode="w+b",
            dir=settings.FILE_UPLOAD_TEMP_DIR,
        )
        try:
            while True:
                message = await receive()
                if message["type"] == "http.disconnect":
                    from django.core.exceptions import RequestAborted

                    raise RequestAborted()
                if "body" in message:
                    body_file.write(message["body"])
                if not message.get("more_body", False):
                    break
        except BaseException:
            body_file.close()  # an unnamed temp file: closing removes it
            raise
        body_file.seek(0)
        return body_file

    def create_request(self, scope, body_file):
        headers = scope.get("headers") or []
        if not any(name == b"content-length" for name, _ in headers):
            size = body_file.seek(0, 2)
            body_file.seek(0)
            if size:
                scope = {**scope, "headers": [*headers, (b"content-length", str(size).encode())]}
        return super().create_request(scope, body_file)
