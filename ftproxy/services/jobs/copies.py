"""Files across providers: a job on entry Y may name a training or
validation file that its key uploaded to entry X.

The gateway copies the file to Y's files entry first (the one with Y's
name): it streams X's bytes to a spool (memory bounded, as for any upload),
validates them as an upload to Y would be, and uploads them to Y, whose
provider converts them where it needs to (Vertex AI writes Gemini JSONL).
The copy is an ordinary ledger file of the same owner with ``copied_from``
naming the original; there is at most one live copy per original and entry
(a unique constraint), and later jobs reuse it. The job keeps answering
with the original file id, and its events say that a copy was made and
where. A copy that fails says which step failed (download from X,
validation for Y, upload to Y), and the job is never created upstream.
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from ...conf import FILES, gateway
from ...errors import (
    GatewayError,
    ProviderError,
    ProviderInputError,
    RetryLater,
    UnusableFile,
)
from ...models import File, FineTuningJob, JobEvent, LedgerState, mint_id
from ...providers.base import Provider
from ...providers.data import FileUpload, RemoteFile
from ..files.scan import FINE_TUNE, scan_upload
from ..ledger.common import job_request, provider_of
from ..ledger.context import CallContext
from ..ledger.reconcile import apply_remote_file
from ..uploads import store as upload_store
from .events import event_of
from .transfer import delete_quietly, download, until_processed, upload_in_parts

#: ``JobEvent.source`` of the events that tell of a copy.
COPY_SOURCE = "copy"
#: A copy still pending after this long belongs to a request that died (an
#: upload with its retries is well within it): it is given up and redone.
IN_FLIGHT = timedelta(minutes=30)
#: What OpenAI's POST /files takes; a larger copy to an entry with an
#: Uploads API of its own goes through that instead.
FILES_API_LIMIT = 512 * 1024 * 1024
#: The spool keeps this much in memory, the rest on disk.
SPOOL_IN_MEMORY = 1024 * 1024

DOWNLOAD, VALIDATE, UPLOAD = "download", "validation", "upload"


def _step_label(step: str, source: str, target: str) -> str:
    return {
        DOWNLOAD: f"downloading it from {source!r}",
        VALIDATE: f"validating it for {target!r}",
        UPLOAD: f"uploading it to {target!r}",
    }[step]


def _fail(exc: Exception, step: str, param: str, original: File, target: str) -> None:
    """Make ``exc``'s message say which copy step failed. The error keeps
    its class, so its status, retry advice and audit facts stay."""
    prefix = (
        f"{param}: copying {original.public_id} from {original.provider!r} to {target!r} "
        f"failed while {_step_label(step, original.provider, target)}: "
    )
    exc.message = prefix + (getattr(exc, "message", None) or str(exc))  # type: ignore[attr-defined]
    exc.args = (exc.message,)  # type: ignore[attr-defined]
    exc.copy_step = step  # type: ignore[attr-defined]
    if step == VALIDATE or getattr(exc, "param", None) in (None, "file"):
        exc.param = param  # type: ignore[attr-defined]


@dataclass
class Placed:
    """One file of a job, as the job's entry will read it."""

    param: str
    original: File
    copy: File
    reused: bool

    def message(self) -> str:
        what = "reused its copy on" if self.reused else "copied it to"
        return (
            f"{self.param} {self.original.public_id} lives on {self.original.provider!r}; "
            f"{what} {self.copy.provider!r} as {self.copy.public_id} "
            f"({self.copy.remote_id}) for this job."
        )


@dataclass
class CopyPlan:
    """The files of one job create that must be copied to its entry."""

    provider: Provider
    target: Provider | None = None
    todo: dict[str, File] = field(default_factory=dict)
    #: Remote references that replace the named file's (its original's).
    refs: dict[str, str] = field(default_factory=dict)

    def carry_out(self, ctx: CallContext, job: FineTuningJob) -> dict[str, str]:
        """Copy (or reuse a copy of) each file; record an event on ``job`` for
        each; return the remote reference to send for each param that changed."""
        refs = dict(self.refs)
        for param, original in self.todo.items():
            copy, reused = copy_file(ctx, original, self.target, param)
            placed = Placed(param, original, copy, reused)
            JobEvent.objects.create(
                job=job,
                to_status="",
                source=COPY_SOURCE,
                message=placed.message(),
            )
            refs[param] = copy.remote_id
            # A copy takes its time (a large file, the target's import): the
            # job's Idempotency-Key claim starts its time limit again, so it
            # cannot run out before the job is sent.
            ctx.recorded(job, self.provider)
        if (
            self.todo
            and not FineTuningJob.objects.filter(
                pk=job.pk, ledger_state=LedgerState.PENDING
            ).exists()
        ):
            # A retry settled the row (its claim ran out during a copy): it
            # owns the create now, and this request must not send it too.
            raise GatewayError(
                "The job's files took too long to copy; a retry with the same "
                "Idempotency-Key took the request over. Nothing was sent.",
                code="outcome_pending",
                status_code=503,
                error_type="server_error",
            )
        return refs


def plan_copies(
    provider: Provider,
    rows: dict[str, File | None],
    body: dict[str, Any],
    *,
    source_job: dict[str, Any] | None = None,
) -> CopyPlan:
    """Which of the job's ledger files must be copied to ``provider``'s
    entry; a 400 when one cannot be (no files entry there) or when the entry
    refuses the job itself, before anything is copied."""
    plan = CopyPlan(provider=provider)
    target = gateway().provider(FILES, provider.name)
    for param, row in rows.items():
        if row is None or row.provider == provider.name:
            continue  # already there
        original = _root(row)
        if original.provider == provider.name:  # the user named a copy: its original serves
            plan.refs[param] = original.remote_id
            continue
        if target is None or target.kind != provider.kind:
            # No files entry of that name. A file of the same upstream family
            # is used as it is (as before copies existed); any other is a 400.
            same_kind = [f for f in (row, original) if f.provider_kind == provider.kind]
            if not same_kind:
                raise UnusableFile(
                    f"{param}: {row.public_id} was uploaded to {row.provider!r} "
                    f"({row.provider_kind}); to train on {provider.name!r} ({provider.kind}) "
                    f"the gateway copies it to the files entry {provider.name!r}, and "
                    "files_settings has none.",
                    param=param,
                )
            if same_kind[0] is not row:
                plan.refs[param] = same_kind[0].remote_id
            continue
        plan.target = target
        plan.todo[param] = original
    if plan.todo:
        check_job_for(provider, body, source_job=source_job)
    return plan


def check_job_for(
    provider: Provider, body: dict[str, Any], *, source_job: dict[str, Any] | None = None
) -> None:
    """The entry's own 400 for a job it cannot take (e.g. a DPO ``method``
    where it has none), asked without any upstream call. ``source_job`` is
    the earlier job a continued tuning starts from (see ``continuation``)."""
    provider.check_job(
        job_request(
            body,
            training_file=body.get("training_file") or "",
            validation_file=body.get("validation_file"),
            source_job=source_job,
        )
    )


def _root(row: File) -> File:
    """The original of a copy (while it is alive), else the row itself."""
    original = row.copied_from
    if original is not None and not original.deleted and original.ledger_state == LedgerState.OK:
        return original
    return row


def _live_copy(original: File, entry: str) -> File | None:
    return (
        File.objects.filter(copied_from=original, provider=entry, deleted=False)
        .exclude(ledger_state=LedgerState.FAILED)
        .first()
    )


def copy_file(ctx: CallContext, original: File, target: Provider, param: str) -> tuple[File, bool]:
    """The live copy of ``original`` on the files entry ``target``, made now
    if there is none; and whether it was reused. Two requests racing for
    the same copy make it once: the loser is told to retry (409, which the
    SDK retries by itself) until the winner is done."""
    for _ in range(3):
        existing = _live_copy(original, target.name)
        if existing is not None:
            if existing.ledger_state == LedgerState.OK:
                return existing, True
            if existing.created > timezone.now() - IN_FLIGHT:
                raise RetryLater(
                    f"{param}: {original.public_id} is being copied to {target.name!r} by "
                    "another request; retry shortly."
                )
            _record_failure(existing, RuntimeError("abandoned: the copy never finished"))
        try:
            with transaction.atomic():
                row = File.objects.create(
                    public_id=mint_id("file"),
                    provider=target.name,
                    provider_kind=target.kind,
                    owner=original.owner,
                    filename=original.filename,
                    purpose=original.purpose,
                    bytes=original.bytes,
                    sha256=original.sha256,
                    status="uploaded",
                    created_at=int(timezone.now().timestamp()),
                    estimated_tokens=original.estimated_tokens,
                    copied_from=original,
                )
        except IntegrityError:
            continue  # another request claimed it first: see what it made
        return _make_copy(ctx, original, target, row, param), False
    raise RetryLater(f"{param}: the copy of {original.public_id} is contended; retry shortly.")


def _make_copy(ctx: CallContext, original: File, target: Provider, row: File, param: str) -> File:
    step = DOWNLOAD
    remote: RemoteFile | None = None
    try:
        source = provider_of(FILES, original)
        # On the gateway's own disk, not in the system temp directory (often
        # RAM-backed): a file made by the Uploads API may be 8 GB.
        spool_dir = upload_store.incoming_dir()
        spool_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.SpooledTemporaryFile(max_size=SPOOL_IN_MEMORY, dir=spool_dir) as spool:
            size = download(ctx, source, original, spool)
            step = VALIDATE
            scan = scan_upload(spool, original.purpose)
            if original.sha256 and scan.sha256 != original.sha256:
                step = DOWNLOAD
                raise ProviderError(
                    f"the bytes {source.name!r} returned are not the ones uploaded "
                    f"(SHA-256 {scan.sha256[:12]}…, expected {original.sha256[:12]}…).",
                    provider=source.name,
                )
            step = UPLOAD
            spool.seek(0)
            upload = FileUpload(
                filename=original.filename,
                purpose=original.purpose,
                stream=spool,
                size=size,
                content_type="application/jsonl"
                if original.purpose == FINE_TUNE
                else "application/octet-stream",
            )
            try:
                if target.forwards_uploads and size > min(
                    FILES_API_LIMIT, gateway().max_upload_bytes
                ):
                    remote = upload_in_parts(ctx, target, upload)
                else:
                    remote = ctx.upstream(target, target.upload_file, upload)
            except ProviderInputError as exc:
                if exc.upstream_status is None:
                    step = VALIDATE  # the provider's own conversion refused a line
                raise
        remote = until_processed(ctx, target, remote)
        if remote.status == "error":
            step = VALIDATE
            raise ProviderInputError(
                f"{target.name!r} rejected the file: {remote.status_details or 'no reason given'}",
                provider=target.name,
            )
    except Exception as exc:
        if isinstance(exc, ProviderError | GatewayError):
            _fail(exc, step, param, original, target.name)  # says which step, in place
        if remote is not None:  # uploaded, then refused: remove it again, best effort
            delete_quietly(ctx, target, remote.remote_id)
            _record_failure(row, exc, remote_id=remote.remote_id)
        else:
            _record_failure(row, exc)
        raise
    row.remote_id = remote.remote_id
    if not target.mints_ids:
        row.public_id = remote.remote_id
    changed = apply_remote_file(row, remote)
    row.ledger_state = LedgerState.OK
    row.save(update_fields=[*changed, "remote_id", "public_id", "ledger_state", "updated"])
    return row


# --------------------------------------------------------------------------
# The copy events of jobs whose provider serves its own events
# --------------------------------------------------------------------------


def copy_events(job: FineTuningJob) -> list[dict[str, Any]]:
    """The job's copy events, newest first, in OpenAI's event shape."""
    rows = JobEvent.objects.filter(job=job, source=COPY_SOURCE).order_by("-id")
    return [event_of(row) for row in rows]


def notes_after(notes: list[dict[str, Any]], after: str | None) -> list[dict[str, Any]] | None:
    """The copy events after the cursor ``after`` when it names one of
    them, else None (the cursor is the provider's)."""
    ids = [note["id"] for note in notes]
    if after is None or after not in ids:
        return None
    return notes[ids.index(after) + 1 :]


def with_notes(
    events: list[dict[str, Any]], has_more: bool, notes: list[dict[str, Any]], limit: int
) -> tuple[list[dict[str, Any]], bool]:
    """The provider's page, followed by the copy events once the provider
    has no more (they happened before the job was created, so they come
    last, newest first)."""
    if has_more or not notes:
        return events, has_more
    room = max(limit - len(events), 0)
    return [*events, *notes[:room]], len(notes) > room


def _record_failure(row: File, exc: BaseException, **fields: Any) -> None:
    """Mark a copy that failed, outside any transaction, so the record
    survives whatever the request does next; a failed copy is not reused
    (the next job copies again)."""
    row.ledger_state = LedgerState.FAILED
    row.ledger_error = (getattr(exc, "message", None) or f"{type(exc).__name__}: {exc}")[:2000]
    for name, value in fields.items():
        setattr(row, name, value)
    row.save(update_fields=["ledger_state", "ledger_error", *fields, "updated"])
