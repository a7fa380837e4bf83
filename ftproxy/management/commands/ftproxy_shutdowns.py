"""``manage.py ftproxy_shutdowns [--days N] [--notify]``: the fine-tuned
models that shut down within N days (default 30), soonest first: each with
its job, entry, key, base model, data and the command that retrains it
elsewhere. ``--notify`` also queues the ``shutdown_approaching`` webhook
events now due (the sync does so each round)."""

from __future__ import annotations

import argparse
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ftproxy.models import ApiKey, File
from ftproxy.services.jobs import shutdowns


def days(value: str) -> int:
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number of days: {value!r}") from None
    if not 0 <= number <= 3650:
        raise argparse.ArgumentTypeError(f"must be 0 to 3650: {value!r}")
    return number


class Command(BaseCommand):
    """List models about to shut down, with the command that retrains each."""

    help = "List fine-tuned models shutting down within --days days, and how to retrain each."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--days", type=days, default=30, metavar="N", help="How far ahead (default 30)."
        )
        parser.add_argument(
            "--notify",
            action="store_true",
            help="Also queue the fine_tuning.model.shutdown_approaching events now due.",
        )

    def handle(self, *args: Any, days: int, notify: bool, **options: Any) -> None:
        found = shutdowns.upcoming(days)
        keys = {
            key.pk: key
            for key in ApiKey.objects.filter(
                pk__in={i.job.owner_id for i in found if i.job.owner_id}
            )
        }
        names = dict(
            File.objects.filter(public_id__in={i.job.training_file for i in found}).values_list(
                "public_id", "filename"
            )
        )
        for item in found:
            job = item.job
            owner = keys.get(job.owner_id)
            data = job.training_file
            if job.training_file in names:
                data += f" ({names[job.training_file]})"
            if job.validation_file:
                data += f", validation {job.validation_file}"
            self.stdout.write(
                f"{item.shutdown.isoformat()} ({item.days_left} day(s))  {job.fine_tuned_model}\n"
                f"    job {job.public_id} on {job.provider}, base {job.model}, "
                f"key {owner.name + ' (' + owner.prefix + ')' if owner else 'master'}\n"
                f"    data {data}\n"
                f"    retrain: {item.retrain_command}"
            )
        self.stdout.write(f"{len(found)} model(s) shut down within {days} day(s).")
        if notify:
            self.stdout.write(f"Queued {shutdowns.notify_approaching()} shutdown notice(s).")
