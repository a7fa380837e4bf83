"""``manage.py ftproxy_update_key NAME [--budget-usd X|none]
[--max-active-jobs N|none] [--webhook-url URL|none] [--rotate-secret]``.

Changes a key's limits and webhook, through the keys service (the change
is in the key's change trail, by ``manage.py``). ``NAME`` is the key's name
(of a key not revoked; it must be unambiguous), its prefix (``sk-ftp-…``)
or its id (``key-…``). When a
webhook signing secret is made (the first ``--webhook-url`` of a key, or
``--rotate-secret``), it is printed once, alone on the last line of stdout;
it is never shown again.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ftproxy.errors import GatewayError
from ftproxy.services.accounts import apikeys

from . import _limits
from ._keys import find_key


class Command(BaseCommand):
    """Change a key's budget, job quota or webhook; see the module docstring."""

    help = (
        "Change an API key's budget, active-job limit or webhook URL. A new webhook secret is "
        "printed once, on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The key's name, prefix or id.")
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
        key = find_key(name)
        values = {
            option: None if options[option] is _limits.UNSET else options[option]
            for option in ("budget_usd", "max_active_jobs", "webhook_url")
            if options[option] is not None
        }
        if options["rotate_secret"] and not (values.get("webhook_url") or key.webhook_url):
            raise CommandError("--rotate-secret: the key has no webhook URL.")
        try:
            made = apikeys.update_key(apikeys.COMMAND_ACTOR, key, values)
            key, secret = made.key, made.webhook_secret
            if options["rotate_secret"]:
                secret = apikeys.rotate_webhook_secret(apikeys.COMMAND_ACTOR, key)
        except GatewayError as exc:
            raise CommandError(exc.message) from None
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
