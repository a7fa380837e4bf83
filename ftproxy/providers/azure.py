"""Azure OpenAI (being written)."""

from .base import Provider


class AzureProvider(Provider):
    kind = "azure"
    options = frozenset({"api_key", "api_base", "api_version"})
    required_options = frozenset({"api_key", "api_base"})
