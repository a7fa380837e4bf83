"""``manage.py ftproxy_create_key --name NAME``: mint an API key.

The key is printed once, alone on the last line of stdout, so scripts can
take it with ``tail -n 1``; only its prefix and SHA-256 are stored.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ftproxy.models import ApiKey


class Command(BaseCommand):
    """Create an ``ApiKey`` and print the raw key on the last line."""

    help = "Create an API key. The key is printed once, on the last line; store it now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--name", required=True, help="Who or what the key is for (shown in the admin)."
        )

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        name = name.strip()
        if not name:
            raise CommandError("--name must not be empty.")
        max_length = ApiKey._meta.get_field("name").max_length
        if len(name) > max_length:
            raise CommandError(f"--name is longer than {max_length} characters.")
        key, raw = ApiKey.create_key(name)
        self.stdout.write(
            f"Created API key {key.name!r} (prefix {key.prefix}). "
            "Store it now: it is shown only this once and cannot be recovered."
        )
        self.stdout.write(raw)
