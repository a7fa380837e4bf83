"""``manage.py ftproxy_list_keys [--all]``: the API keys, newest first, one a
line: prefix, name, state, expiry, limits and allowlists. Never a secret."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ftproxy.services.accounts import apikeys


def state_of(key) -> str:
    if key.revoked:
        return "revoked"
    if apikeys.is_expired(key):
        return "expired"
    return "active"


class Command(BaseCommand):
    """List keys through the same service as ``GET /v1/keys``."""

    help = "List API keys (active ones; --all includes revoked). Secrets are never shown."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--all", action="store_true", help="Include revoked keys.")

    def handle(self, *args: Any, **options: Any) -> None:
        after = None
        shown = 0
        while True:
            keys, has_more = apikeys.list_keys(after=after, limit=100)
            for key in keys:
                if key.revoked and not options["all"]:
                    continue
                shown += 1
                self.stdout.write(self.line(key))
            if not has_more:
                break
            after = apikeys.public_id(keys[-1])
        self.stdout.write(f"{shown} key(s).")

    def line(self, key) -> str:
        parts = [apikeys.public_id(key), key.prefix, repr(key.name), state_of(key)]
        if key.expires_at:
            parts.append(f"expires {apikeys.utc_text(key.expires_at)}")
        if key.budget_usd is not None:
            parts.append(f"budget ${key.budget_usd:.2f}")
        if key.max_active_jobs is not None:
            parts.append(f"max active jobs {key.max_active_jobs}")
        if key.allowed_providers is not None:
            parts.append(f"providers {','.join(key.allowed_providers) or '(none)'}")
        if key.allowed_models is not None:
            parts.append(f"models {','.join(key.allowed_models) or '(none)'}")
        if key.previous_key_expires_at:
            parts.append(f"old secret valid until {apikeys.utc_text(key.previous_key_expires_at)}")
        return "  ".join(parts)
