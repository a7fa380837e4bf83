"""A loopback OpenAI ``POST /v1/files`` that tells a whole upload from one
cut short: it reads each body to its Content-Length, answers a file for a
whole one, and records what it got. For tests only (127.0.0.1, ephemeral
port, stopped when the ``with`` block ends)."""

from __future__ import annotations

import contextlib
import hashlib
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Received:
    """What the upstream saw: files it created (the SHA-256 of each file
    part) and bodies that ended before their Content-Length."""

    created: list[str] = field(default_factory=list)
    cut_short: int = 0
    status: int = 200  # the answer to a whole upload
    done: threading.Event = field(default_factory=threading.Event)


def file_part(body: bytes) -> bytes:
    """The bytes of the ``file`` part of a multipart body."""
    boundary = body[: body.index(b"\r\n")]
    for part in body.split(boundary):
        head, _, data = part.partition(b"\r\n\r\n")
        if b'name="file"' in head:
            return data[: -len(b"\r\n")]
    raise AssertionError("no file part")


@contextlib.contextmanager
def files_upstream() -> Iterator[tuple[str, Received]]:
    """Yields (api_base, Received)."""
    received = Received()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):  # quiet
            pass

        def do_POST(self):  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            chunks, got = [], 0
            while got < length:
                chunk = self.rfile.read(min(1024 * 1024, length - got))
                if not chunk:
                    break
                chunks.append(chunk)
                got += len(chunk)
            if got < length:
                received.cut_short += 1
                received.done.set()
                self.close_connection = True
                return
            body = b"".join(chunks)
            data = file_part(body)
            if received.status == 200:
                received.created.append(hashlib.sha256(data).hexdigest())
                answer = {
                    "id": f"file-up{len(received.created)}",
                    "object": "file",
                    "bytes": len(data),
                    "created_at": 1700000000,
                    "filename": "train.jsonl",
                    "purpose": "fine-tune",
                    "status": "processed",
                }
            else:
                answer = {"error": {"message": "upstream says no", "type": "server_error"}}
            payload = json.dumps(answer).encode()
            self.send_response(received.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
            received.done.set()

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1", received
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
