"""A streamed answer that stays streamed under ASGI too.

Django serves a ``StreamingHttpResponse`` over a synchronous iterator under
ASGI by reading the whole iterator into a list first (with a warning): a
file download would sit in memory whole. This one hands the chunks over
one at a time, each read in a thread.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

_END = object()


class ChunkedStreamingResponse(StreamingHttpResponse):
    """``StreamingHttpResponse`` over a synchronous iterator, for WSGI and
    ASGI; ``on_close`` is called when the server closes the response (the
    stream was read, or the client went away)."""

    def __init__(self, *args, on_close: Callable[[], None] | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.on_close = on_close

    def close(self) -> None:
        on_close, self.on_close = self.on_close, None  # once, however often closed
        if on_close is not None:
            with contextlib.suppress(Exception):  # as Django treats its own closers
                on_close()
        super().close()

    async def __aiter__(self):
        chunks = iter(self.streaming_content)
        step = sync_to_async(next, thread_sensitive=True)
        while (chunk := await step(chunks, _END)) is not _END:
            yield chunk
