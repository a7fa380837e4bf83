"""``manage.py ftproxy_deliver_webhooks [--watch] [--interval SECONDS]``:
send the outgoing webhooks that are due (each ``ftproxy_sync_jobs`` round
does the same after syncing). Prints one summary line per round::

    webhooks: attempted=3 delivered=2 retrying=1 failed=0

Safe to run on several hosts at once on PostgreSQL. Ctrl-C or SIGTERM stops
``--watch`` after the current event.
"""

from __future__ import annotations

import signal
import threading
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ftproxy.services.accounts.webhooks import deliver_due

from .ftproxy_sync_jobs import STOP_SIGNALS, _positive, _sleep

#: Seconds between rounds with --watch, unless --interval says otherwise.
DEFAULT_INTERVAL = 10.0


class Command(BaseCommand):
    """Deliver due webhook events; see the module docstring."""

    help = "Send the outgoing webhooks that are due (retries included)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--watch", action="store_true", help="Keep delivering, one round every --interval."
        )
        parser.add_argument(
            "--interval",
            type=_positive,
            default=DEFAULT_INTERVAL,
            metavar="SECONDS",
            help=f"Seconds between rounds with --watch (default {DEFAULT_INTERVAL:g}).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        previous = {}
        if threading.current_thread() is threading.main_thread():

            def handler(signum: int, frame: Any) -> None:
                if stop.is_set():
                    raise KeyboardInterrupt
                stop.set()

            previous = {signum: signal.signal(signum, handler) for signum in STOP_SIGNALS}
        try:
            while True:
                result = deliver_due(should_stop=stop.is_set)
                self.stdout.write(result.summary())
                if not options["watch"] or _sleep(options["interval"], stop):
                    break
        finally:
            for signum, old in previous.items():
                signal.signal(signum, old)
