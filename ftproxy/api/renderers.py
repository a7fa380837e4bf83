"""JSON responses rendered with orjson: the same bytes DRF's compact,
UTF-8 ``JSONRenderer`` writes, several times faster."""

from __future__ import annotations

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_OPTIONS = orjson.OPT_NON_STR_KEYS
_fallback = JSONEncoder()


class ORJSONRenderer(JSONRenderer):
    # DRF's defaults, whatever the host's REST_FRAMEWORK says.
    ensure_ascii = False
    compact = True
    strict = True

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if renderer_context and renderer_context.get("indent"):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            return orjson.dumps(data, default=_fallback.default, option=_OPTIONS)
        except (orjson.JSONEncodeError, TypeError):  # e.g. an integer beyond 64 bits
            return super().render(data, accepted_media_type, renderer_context)
