"""``manage.py ftproxy_retrain JOB_ID --provider NAME [--model M] [--suffix S]``:
re-create a ledger job on another fine-tuning entry.

The job's files are copied to the new entry as for any cross-provider job;
the new job belongs to the same key and records the job it came from. The
new job's id is printed alone on the last line (``tail -n 1``).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from ftproxy.errors import GatewayError, ProviderError
from ftproxy.services.jobs.retrain import retrain_job, tier_left_behind


class Command(BaseCommand):
    """Retrain a job on another provider entry; print the new job id last."""

    help = (
        "Re-create a fine-tuning job from the ledger on another provider entry, copying its "
        "files there. The new job id is printed on the last line."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("job_id", help="The job to retrain (its public id).")
        parser.add_argument(
            "--provider", required=True, help="The fine-tuning entry to train on (its name)."
        )
        parser.add_argument(
            "--model", help="Base model on the new entry (default: the job's, where it exists)."
        )
        parser.add_argument("--suffix", help="Suffix of the new model (default: the job's).")

    def handle(self, *args: Any, job_id: str, provider: str, **options: Any) -> None:
        try:
            job = retrain_job(
                job_id, provider, model=options.get("model"), suffix=options.get("suffix")
            )
        except (GatewayError, ProviderError) as exc:
            raise CommandError(exc.message) from None
        source = job.retrained_from
        self.stdout.write(
            f"Retrained {source.public_id} ({source.provider}, {source.model}) on "
            f"{job.provider} as {job.model}: {job.status}{tier_left_behind(source, job)}."
        )
        self.stdout.write(job.public_id)
