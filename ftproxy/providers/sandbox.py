"""The built-in offline provider (being written)."""

from .base import Provider


class SandboxProvider(Provider):
    kind = "sandbox"
    options = frozenset(
        {"storage_dir", "validate_seconds", "queue_seconds", "run_seconds", "organization_id"}
    )
