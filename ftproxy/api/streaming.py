"""A streamed answer that stays streamed under ASGI too.

Django serves a ``StreamingHttpResponse`` over a synchronous iterator under
ASGI by reading the whole iterator into a list first (with a warning): a
file download would sit in memory whole. This one hands the chunks over
one at a time, each read in a thread.
"""

from __future__ import annotations

from asgiref.sync import sync_to_async
from django.http import StreamingHttpResponse

_END = object()


class ChunkedStreamingResponse(StreamingHttpResponse):
    """``StreamingHttpResponse`` over a synchronous iterator, for WSGI and ASGI."""

    async def __aiter__(self):
        chunks = iter(self.streaming_content)
        step = sync_to_async(next, thread_sensitive=True)
        while (chunk := await step(chunks, _END)) is not _END:
            yield chunk
