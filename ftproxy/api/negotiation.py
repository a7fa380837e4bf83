"""Content negotiation that never answers 406."""

from rest_framework.negotiation import DefaultContentNegotiation


class AnyAcceptNegotiation(DefaultContentNegotiation):
    """Answer JSON (or raw bytes) whatever ``Accept`` says: the OpenAI SDK
    sends ``Accept: application/binary`` for file content."""

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
