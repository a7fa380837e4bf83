"""Fixtures for provider tests: real local sockets for what ``responses``
cannot show (it replaces the transport adapter, so urllib3's retries,
sleeps and timeouts never run under it)."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

#: Bodies up to this size are kept whole for assertions; larger ones are hashed only.
KEEP_BODY_BYTES = 8 * 1024 * 1024


class _ScriptedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self):  # noqa: N802 - http.server API
        self.server.serve_scripted(self)

    do_POST = do_DELETE = do_GET  # noqa: N815

    def log_message(self, *args: Any) -> None:
        pass


class ScriptedServer(ThreadingHTTPServer):
    """An HTTP server on 127.0.0.1 that answers from a script, in order.

    Script steps: ``("json", status, body, headers)`` answers JSON;
    ``("drop",)`` reads the request and closes the connection without a
    word. With the script used up it answers ``{}`` with 200. Every request
    is recorded: method, path, headers, body length and SHA-256 (and the body
    itself when small).
    """

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _ScriptedHandler)
        self.script: list[tuple[Any, ...]] = []
        self.requests: list[dict[str, Any]] = []
        self.url = f"http://127.0.0.1:{self.server_address[1]}"

    def serve_scripted(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        digest, kept, remaining = hashlib.sha256(), bytearray(), length
        while remaining:
            chunk = handler.rfile.read(min(remaining, 1 << 20))
            if not chunk:
                break
            digest.update(chunk)
            if len(kept) < KEEP_BODY_BYTES:
                kept += chunk
            remaining -= len(chunk)
        self.requests.append(
            {
                "method": handler.command,
                "path": handler.path,
                "headers": dict(handler.headers),
                "length": length - remaining,
                "sha256": digest.hexdigest(),
                "body": bytes(kept),
            }
        )
        step = self.script.pop(0) if self.script else ("json", 200, {}, {})
        if step[0] == "drop":
            handler.close_connection = True
            return
        _, status, body, headers = step
        payload = json.dumps(body).encode()
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            handler.send_header(name, value)
        handler.end_headers()
        handler.wfile.write(payload)


@pytest.fixture
def scripted_server():
    server = ScriptedServer()
    thread = threading.Thread(target=server.serve_forever, args=(0.02,), daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


@pytest.fixture
def silent_server_url():
    """A port that accepts connections (the kernel does, from the backlog)
    and never answers."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    sock.close()


@pytest.fixture
def closed_port_url():
    """A local port nobody listens on: connecting is refused at once."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"
