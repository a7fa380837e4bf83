"""What a job's admin page shows: only the fields that say something about
this job. A field with no value is left out, a field the job's provider does
not have (Azure's training tier on a sandbox job) is never shown, and the
ledger's bookkeeping is folded away unless it holds an error or a lease."""

from __future__ import annotations

from typing import Any

from ..conf import provider_class
from ..models import FineTuningJob

#: Display fields (methods of the admin) and the job attribute they show.
SHOWS = {
    "training_file_link": "training_file",
    "validation_file_link": "validation_file",
    "result_files_links": "result_files",
    "created_at_local": "created_at",
    "finished_at_local": "finished_at",
    "estimated_finish_local": "estimated_finish",
    "synced_at_local": "synced_at",
    "lease_expires_at_local": "lease_expires_at",
    "retrained_from_link": "retrained_from_id",
    "retrained_as_links": "retrains",
    "hyperparameters_pretty": "hyperparameters",
    "method_pretty": "method",
    "error_pretty": "error",
    "integrations_pretty": "integrations",
    "metadata_pretty": "metadata",
    "upstream_fields_pretty": "upstream_fields",
    "payload": "provider_payload",
}
#: Shown on every job's page, with or without a value.
ALWAYS = frozenset(
    {"public_id", "provider", "remote_id", "key", "status_history", "model", "status", "cost"}
)
#: Said elsewhere on the page: the result files are linked in "Job", the
#: hyperparameters are inside the method when there is one.
REPEATS = {
    "result_files_pretty": lambda job: True,
    "hyperparameters_pretty": lambda job: bool(job.method),
    "raw_status": lambda job: job.raw_status == job.status,
    "provider_kind": lambda job: job.provider_kind == job.provider,
    "terminal": lambda job: True,  # the status history says when the job ended
}


def has_value(job: FineTuningJob, field: str) -> bool:
    """Whether the page has something to say for ``field`` of ``job``."""
    if field in ALWAYS:
        return True
    if field in REPEATS and REPEATS[field](job):
        return False
    if field == "training_type":
        kind = provider_class(job.provider_kind)
        if kind is None or not kind.accepts_training_type:
            return False
    if field == "estimated_cost":
        return job.estimated_cost_usd is not None
    attribute = SHOWS.get(field, field)
    value: Any = getattr(job, attribute, None)
    if attribute == "retrains":
        return value.exists()
    return value not in (None, "", [], {})


def job_fieldsets(fieldsets: tuple, job: FineTuningJob | None) -> list:
    """``fieldsets`` with the fields ``job`` has nothing for left out, empty
    sections dropped, and the ledger section folded unless it has an error
    or a lease to show."""
    if job is None:
        return list(fieldsets)
    shown = []
    for title, options in fieldsets:
        fields = [field for field in options["fields"] if has_value(job, field)]
        if not fields:
            continue
        classes = tuple(options.get("classes", ()))
        if title == "Ledger" and not ({"ledger_error", "sync_error", "lease_owner"} & set(fields)):
            classes = (*classes, "collapse")
        shown.append((title, {**options, "fields": fields, "classes": classes}))
    return shown
