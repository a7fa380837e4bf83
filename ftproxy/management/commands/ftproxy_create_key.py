"""``manage.py ftproxy_create_key --name NAME [--budget-usd X] [--max-active-jobs N]``:
mint an API key.

The key is printed once, alone on the last line of stdout, so scripts can
take it with ``tail -n 1``; only its prefix and SHA-256 are stored.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ftproxy.models import ApiKey
from ftproxy.services.accounts import apikeys

from . import _limits


class Command(BaseCommand):
    """Create an ``ApiKey`` and print the raw key on the last line."""

    help = "Create an API key. The key is printed once, on the last line; store it now."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--name", required=True, help="Who or what the key is for (shown in the admin)."
        )
        parser.add_argument(
            "--budget-usd",
            type=_limits.budget,
            metavar="X",
            help="Most the key may spend on fine-tuning, in USD (default: no budget).",
        )
        parser.add_argument(
            "--max-active-jobs",
            type=_limits.job_count,
            metavar="N",
            help="Most jobs the key may have not yet final at once (default: no limit).",
        )

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        name = name.strip()
        if not name:
            raise CommandError("--name must not be empty.")
        max_length = ApiKey._meta.get_field("name").max_length
        if len(name) > max_length:
            raise CommandError(f"--name is longer than {max_length} characters.")
        made = apikeys.create_key(
            apikeys.COMMAND_ACTOR,
            {
                "name": name,
                "budget_usd": options.get("budget_usd"),
                "max_active_jobs": options.get("max_active_jobs"),
            },
        )
        key, raw = made.key, made.secret
        limits = []
        if key.budget_usd is not None:
            limits.append(f"budget ${key.budget_usd:.2f}")
        if key.max_active_jobs is not None:
            limits.append(f"at most {key.max_active_jobs} active job(s)")
        self.stdout.write(
            f"Created API key {key.name!r} (prefix {key.prefix})"
            + (f" with {', '.join(limits)}" if limits else "")
            + ". Store it now: it is shown only this once and cannot be recovered."
        )
        self.stdout.write(raw)
