"""``manage.py ftproxy_update_key NAME [--budget-usd X|none]
[--max-active-jobs N|none] [--webhook-url URL|none] [--rotate-secret]``.

Changes a key's limits and webhook. ``NAME`` is the key's name (of a key
not revoked; it must be unambiguous) or its prefix (``sk-ftp-…``). When a
webhook signing secret is made (the first ``--webhook-url`` of a key, or
``--rotate-secret``), it is printed once, alone on the last line of stdout;
it is never shown again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from ftproxy.models import KEY_PREFIX, ApiKey
from ftproxy.services.accounts import webhooks

from . import _limits


def find_key(name_or_prefix: str) -> ApiKey:
    """The one key with this prefix, or the one unrevoked key with this name."""
    if name_or_prefix.startswith(KEY_PREFIX):
        matches = list(ApiKey.objects.filter(prefix=name_or_prefix))
    else:
        matches = list(ApiKey.objects.filter(name=name_or_prefix, revoked=False))
    if not matches:
        raise CommandError(f"No key named {name_or_prefix!r} (or revoked; give its prefix).")
    if len(matches) > 1:
        prefixes = ", ".join(key.prefix for key in matches)
        raise CommandError(
            f"{len(matches)} keys are named {name_or_prefix!r}: give the prefix of one "
            f"({prefixes})."
        )
    return matches[0]


class Command(BaseCommand):
    """Change a key's budget, job quota or webhook; see the module docstring."""

    help = (
        "Change an API key's budget, active-job limit or webhook URL. A new webhook secret is "
        "printed once, on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The key's name, or its prefix.")
        parser.add_argument(
            "--budget-usd",
            type=_limits.or_none(_limits.budget),
            metavar="X|none",
            help="Most the key may spend on fine-tuning, in USD; 'none' removes the budget.",
        )
        parser.add_argument(
            "--max-active-jobs",
            type=_limits.or_none(_limits.job_count),
            metavar="N|none",
            help="Most jobs not yet final at once; 'none' removes the limit.",
        )
        parser.add_argument(
            "--webhook-url",
            type=_limits.webhook_url,
            metavar="URL|none",
            help="Where the key's job status changes are sent; 'none' removes it (and the "
            "secret). The first URL of a key makes its signing secret.",
        )
        parser.add_argument(
            "--rotate-secret",
            action="store_true",
            help="Make a new webhook signing secret (the old one stops working).",
        )

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        changes = [
            options[option] is not None
            for option in ("budget_usd", "max_active_jobs", "webhook_url")
        ]
        if not any(changes) and not options["rotate_secret"]:
            raise CommandError(
                "Nothing to change: give --budget-usd, --max-active-jobs, --webhook-url or "
                "--rotate-secret."
            )
        secret = None
        with transaction.atomic():
            key = find_key(name)
            fields = []
            for option in ("budget_usd", "max_active_jobs"):
                value = options[option]
                if value is not None:
                    setattr(key, option, None if value is _limits.UNSET else value)
                    fields.append(option)
            if fields:
                key.save(update_fields=fields)
            url = options["webhook_url"]
            if url is not None:
                secret = webhooks.set_webhook_url(key, None if url is _limits.UNSET else url)
            if options["rotate_secret"]:
                if not key.webhook_url:
                    raise CommandError("--rotate-secret: the key has no webhook URL.")
                secret = webhooks.rotate_secret(key)
        budget = "none" if key.budget_usd is None else f"${key.budget_usd:.2f}"
        jobs = "none" if key.max_active_jobs is None else key.max_active_jobs
        self.stdout.write(
            f"Updated API key {key.name!r} (prefix {key.prefix}): budget {budget}, "
            f"max active jobs {jobs}, webhook {key.webhook_url or 'none'}."
        )
        if secret is not None:
            self.stdout.write(
                "New webhook signing secret (verify deliveries with it; shown only this once):"
            )
            self.stdout.write(secret)
