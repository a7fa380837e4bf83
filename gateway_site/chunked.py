"""Request bodies sent chunked (no Content-Length), for Django.

Django reads as many bytes of a request's body as ``CONTENT_LENGTH`` says,
so a body sent with ``Transfer-Encoding: chunked`` straight to the WSGI
server would look empty. nginx in front (``deploy/nginx.conf``) reads the
whole body and passes it on with its length; served without it (``make
run``), ``ChunkedBodies`` does the same: it spools such a body into
``FILE_UPLOAD_TEMP_DIR`` and gives it its length.
"""

from __future__ import annotations

import json
import tempfile

from django.conf import settings

from ftproxy.conf import gateway

#: Read size while spooling a chunked body.
CHUNK_BYTES = 256 * 1024
#: Multipart overhead allowed on top of ``max_upload_mb``.
SLACK_BYTES = 1024 * 1024


class ChunkedBodies:
    """WSGI middleware: a chunked request body, spooled, with its length."""

    def __init__(self, application):
        self.application = application

    def __call__(self, environ, start_response):
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if not chunked or environ.get("CONTENT_LENGTH"):
            return self.application(environ, start_response)
        body = tempfile.SpooledTemporaryFile(
            max_size=settings.FILE_UPLOAD_MAX_MEMORY_SIZE, dir=settings.FILE_UPLOAD_TEMP_DIR
        )
        limit = gateway().max_upload_bytes + SLACK_BYTES
        try:
            while chunk := environ["wsgi.input"].read(CHUNK_BYTES):
                body.write(chunk)
                if body.tell() > limit:
                    body.close()
                    return _too_large(start_response, limit)
            environ["CONTENT_LENGTH"] = str(body.tell())
            body.seek(0)
            environ["wsgi.input"] = body
            result = self.application(environ, start_response)
        except BaseException:
            body.close()
            raise
        return _ClosingBoth(result, body)


def _too_large(start_response, limit: int) -> list[bytes]:
    error = {
        "message": f"The request body is larger than {limit} bytes "
        "(ftproxy_settings.max_upload_mb).",
        "type": "invalid_request_error",
        "param": None,
        "code": "request_too_large",
    }
    answer = json.dumps({"error": error}).encode()
    start_response(
        "413 Request Entity Too Large",
        [("Content-Type", "application/json"), ("Content-Length", str(len(answer)))],
    )
    return [answer]


class _ClosingBoth:
    """The application's answer, closing the spooled body with it."""

    def __init__(self, result, body):
        self.result, self.body = result, body

    def __iter__(self):
        return iter(self.result)

    def close(self) -> None:
        try:
            close = getattr(self.result, "close", None)
            if close is not None:
                close()
        finally:
            self.body.close()
