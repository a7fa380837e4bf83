"""OpenAI (being written)."""

from .base import Provider


class OpenAIProvider(Provider):
    kind = "openai"
    options = frozenset({"api_key", "api_base", "organization", "project"})
    required_options = frozenset({"api_key"})
