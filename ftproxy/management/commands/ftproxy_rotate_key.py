"""``manage.py ftproxy_rotate_key NAME [--grace-hours H]``: give a key a new
secret, printed once, alone on the last line of stdout. The old secret
keeps working for the grace period (default 24 hours, at most 168; 0 ends
it at once)."""

from __future__ import annotations

import argparse
import datetime
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ftproxy.errors import GatewayError
from ftproxy.services.accounts import apikeys

from ._keys import find_key


def hours(value: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number of hours: {value!r}") from None
    limit = apikeys.MAX_GRACE.total_seconds() / 3600
    if not 0 <= number <= limit:
        raise argparse.ArgumentTypeError(f"must be 0 to {limit:g} hours: {value!r}")
    return number


class Command(BaseCommand):
    """Rotate through the same service as ``POST /v1/keys/{id}/rotate``."""

    help = "Give an API key a new secret (printed once, on the last line); the old one works "
    help += "for the grace period."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The key's name, prefix or id.")
        parser.add_argument(
            "--grace-hours",
            type=hours,
            default=apikeys.DEFAULT_GRACE.total_seconds() / 3600,
            metavar="H",
            help="How long the old secret keeps working (default 24; 0: it stops at once).",
        )

    def handle(self, *args: Any, name: str, grace_hours: float, **options: Any) -> None:
        key = find_key(name)
        try:
            made = apikeys.rotate_key(
                apikeys.COMMAND_ACTOR, key, datetime.timedelta(hours=grace_hours)
            )
        except GatewayError as exc:
            raise CommandError(exc.message) from None
        until = made.key.previous_key_expires_at
        old = f"works until {apikeys.utc_text(until)}" if until else "stopped working"
        self.stdout.write(
            f"Rotated API key {made.key.name!r}: new prefix {made.key.prefix}; the old secret "
            f"{old}. Store the new one now: it is shown only this once."
        )
        self.stdout.write(made.secret or "")
