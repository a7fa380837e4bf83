"""The sandbox's simulated job clock: how a stored job record reads back.

``SandboxJob`` turns a stored job record and the current time into the
job's status, OpenAI-shaped payload, events and checkpoints (nothing runs in
the background: the record holds the timeline, the clock does the rest).
The hyperparameter rules the clock resolves against live here too, since
the provider checks a new job's hyperparameters with the same rules.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any

from ...errors import ProviderInputError
from ..data import Page

FINAL_STATUSES = frozenset({"succeeded", "failed", "cancelled"})
AUTO_HYPERPARAMETERS: dict[str, Any] = {
    "batch_size": 1,
    "learning_rate_multiplier": 1.8,
    "n_epochs": 3,
}
_HYPERPARAMETER_RANGES = {"batch_size": (1, 256), "n_epochs": (1, 50)}
FAILURE_ERROR = {
    "code": "sandbox_simulated_failure",
    "message": "Training failed because the job asked the sandbox to fail it "
    "(suffix 'fail' or metadata sandbox_outcome=failed).",
    "param": None,
}
METRIC_POINTS = 5  # metrics events per job
KEPT_CHECKPOINTS = 3  # one per epoch, for the last epochs, as OpenAI keeps


def stable_hex(*parts: str, length: int = 24) -> str:
    """A deterministic hex id fragment, so listed ids stay stable."""
    return hashlib.sha256(":".join(parts).encode()).hexdigest()[:length]


def resolve_hyperparameters(
    hyperparameters: dict[str, Any] | None, method: dict[str, Any] | None
) -> tuple[dict[str, Any], dict[str, Any]]:
    """``(as given, resolved)`` values of the three common hyperparameters,
    from ``method.<type>.hyperparameters`` overlaid by the top-level ones;
    "auto" where absent. A value out of OpenAI's range is a 400."""
    given: dict[str, Any] = dict.fromkeys(AUTO_HYPERPARAMETERS, "auto")
    if method:
        kind = method.get("type") or "supervised"
        section = method.get(kind) or {}
        _refuse_unknown(
            section.get("hyperparameters"),
            f"method.{kind}.hyperparameters",
            METHOD_HYPERPARAMETERS.get(kind, frozenset()),
        )
        given.update(_common(section.get("hyperparameters")))
    _refuse_unknown(hyperparameters, "hyperparameters", frozenset())
    given.update(_common(hyperparameters))
    for key, value in given.items():
        if value == "auto":
            continue
        low, high = _HYPERPARAMETER_RANGES.get(key, (0, None))
        integral = key in _HYPERPARAMETER_RANGES
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        ok = ok and (value >= low if integral else value > low)
        ok = ok and (high is None or value <= high) and (not integral or value == int(value))
        if not ok:
            raise ProviderInputError(
                f"invalid hyperparameters.{key}: {value!r}", param=f"hyperparameters.{key}"
            )
    resolved = {k: AUTO_HYPERPARAMETERS[k] if v == "auto" else v for k, v in given.items()}
    return given, resolved


#: Hyperparameters OpenAI knows per method, besides the common three.
METHOD_HYPERPARAMETERS = {
    "dpo": frozenset({"beta"}),
    "reinforcement": frozenset(
        {"reasoning_effort", "compute_multiplier", "eval_interval", "eval_samples"}
    ),
}


def _refuse_unknown(hyperparameters: dict[str, Any] | None, where: str, extra: frozenset) -> None:
    """Like OpenAI, refuse a hyperparameter it does not know (e.g. Vertex's
    ``adapter_size``) instead of dropping it."""
    for key in hyperparameters or {}:
        if key not in AUTO_HYPERPARAMETERS and key not in extra:
            raise ProviderInputError(
                f"{where}.{key} is not supported by the sandbox provider", param=f"{where}.{key}"
            )


def _common(hyperparameters: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (hyperparameters or {}).items() if k in AUTO_HYPERPARAMETERS}


def echo_method(method: dict[str, Any] | None, hyperparameters: dict[str, Any]) -> dict[str, Any]:
    """The job's ``method`` as OpenAI echoes it: as given (supervised if
    none), its hyperparameters showing ``hyperparameters``."""
    method = copy.deepcopy(method) if method else {"type": "supervised"}
    kind = method.get("type") or "supervised"
    section = method.get(kind) or {}
    merged = {**(section.get("hyperparameters") or {}), **hyperparameters}
    method[kind] = {**section, "hyperparameters": merged}
    return method


class SandboxJob:
    """A stored job record read against the clock.

    Timeline: created → +validate_seconds → queued → +queue_seconds →
    running for run_seconds of *active* time → outcome. Each pause is
    ``[paused_at, resumed_at, running_again_at]``; the time between
    paused_at and running_again_at does not count as running.
    """

    def __init__(self, record: dict[str, Any]):
        self.record = record
        self.id: str = record["id"]
        self.request: dict[str, Any] = record["request"]
        stages = record["stages"]
        self.created: float = record["created"]
        self.validated = self.created + stages["validate_seconds"]
        self.started = self.validated + stages["queue_seconds"]
        self.run_seconds: float = stages["run_seconds"]
        self.pauses: list[list[float | None]] = record["pauses"]
        self.cancelled: float | None = record["cancelled"]
        self.succeeds = record["outcome"] == "succeeded"
        self.given, self.resolved = resolve_hyperparameters(
            self.request["hyperparameters"], self.request["method"]
        )
        n_epochs, batch_size = self.resolved["n_epochs"], self.resolved["batch_size"]
        self.steps_per_epoch = max(1, -(-record["training_lines"] // int(batch_size)))
        self.total_steps = int(n_epochs) * self.steps_per_epoch
        suffix = self.request["suffix"] or ""
        id8 = self.id.removeprefix("ftjob-")[:8]
        self.model_name = f"ft:{self.request['model']}:sandbox:{suffix}:{id8}"

    # ---- the clock -------------------------------------------------------
    def wall_time(self, active: float) -> float | None:
        """When the job will have run ``active`` seconds; None while a pause
        that comes first has not been resumed."""
        segment_start, done = self.started, 0.0
        for paused_at, _resumed_at, running_again_at in self.pauses:
            ran = paused_at - segment_start
            if active <= done + ran:
                break
            if running_again_at is None:
                return None
            done, segment_start = done + ran, running_again_at
        return segment_start + (active - done)

    def status(self, now: float) -> str:
        """The job's status at ``now``."""
        if self.cancelled is not None:
            return "cancelled"
        if now < self.validated:
            return "validating_files"
        if now < self.started:
            return "queued"
        if self.pauses:
            _paused_at, resumed_at, running_again_at = self.pauses[-1]
            if resumed_at is None:
                return "paused"
            if now < running_again_at:
                return "queued"
        if now < self.wall_time(self.run_seconds):
            return "running"
        return "succeeded" if self.succeeds else "failed"

    def _horizon(self, now: float) -> float:
        return now if self.cancelled is None else min(now, self.cancelled)

    def _step_time(self, step: int) -> float | None:
        return self.wall_time(self.run_seconds * step / self.total_steps)

    # ---- what is shown -------------------------------------------------
    def payload(self, now: float) -> dict[str, Any]:
        """The OpenAI ``fine_tuning.job`` object at ``now``."""
        status = self.status(now)
        began = self._horizon(now) >= self.started
        finish = self.wall_time(self.run_seconds)
        finished_at = None  # (never 0: these are Unix times)
        if status == "cancelled":
            finished_at = int(self.cancelled)
        elif status in FINAL_STATUSES:
            finished_at = int(finish)
        succeeded = status == "succeeded"
        request = self.request
        hyperparameters = self.resolved if began else self.given
        result_file = self.record.get("result_file")
        return {
            "object": "fine_tuning.job",
            "id": self.id,
            "model": request["model"],
            "created_at": int(self.created),
            "status": status,
            "training_file": request["training_file"],
            "validation_file": request["validation_file"],
            "hyperparameters": dict(hyperparameters),
            "method": echo_method(request["method"], hyperparameters),
            "suffix": request["suffix"],
            "seed": request["seed"],
            "integrations": request["integrations"],
            "metadata": request["metadata"],
            "organization_id": self.record["organization_id"],
            "fine_tuned_model": self.model_name if succeeded else None,
            "finished_at": finished_at,
            "estimated_finish": None if finished_at or finish is None else int(finish) + 1,
            "trained_tokens": self.trained_tokens() if succeeded else None,
            "result_files": [result_file] if succeeded and result_file else [],
            "error": dict(FAILURE_ERROR) if status == "failed" else None,
        }

    def trained_tokens(self) -> int:
        return self.record["training_bytes"] // 4 * int(self.resolved["n_epochs"])

    def metrics(self, step: int) -> dict[str, Any]:
        """Made-up but plausible metrics at ``step`` (loss falls, accuracy rises)."""
        progress = step / self.total_steps
        train_loss = round(0.15 + 1.85 * (1 - progress) ** 2, 4)
        accuracy = round(0.55 + 0.4 * progress, 4)
        validated = bool(self.request["validation_file"])
        valid_loss = round(train_loss * 1.08 + 0.02, 4) if validated else None
        valid_accuracy = round(accuracy - 0.03, 4) if validated else None
        return {
            "step": step,
            "train_loss": train_loss,
            "train_mean_token_accuracy": accuracy,
            "valid_loss": valid_loss,
            "valid_mean_token_accuracy": valid_accuracy,
            "full_valid_loss": valid_loss,
            "full_valid_mean_token_accuracy": valid_accuracy,
        }

    def metric_steps(self) -> list[int]:
        total = self.total_steps
        return sorted({max(1, round(total * i / METRIC_POINTS)) for i in range(1, 6)})

    def checkpoint_steps(self) -> list[int]:
        """One per epoch for the last epochs; a failed job lacks the last."""
        n_epochs = int(self.resolved["n_epochs"])
        last = n_epochs if self.succeeds else n_epochs - 1
        first = max(1, n_epochs - KEPT_CHECKPOINTS + 1)
        return [self.steps_per_epoch * epoch for epoch in range(first, last + 1)]

    def events(self, now: float) -> list[dict[str, Any]]:
        """``RemoteEvent`` fields of every event so far, newest first."""
        horizon, timeline = self._horizon(now), []

        def add(at, key, message, level="info", type="message", data=None):
            if at is not None and at <= horizon:
                timeline.append((at, key, level, message, type, data))

        request, total = self.request, self.total_steps
        files = f"training file: {request['training_file']}"
        if request["validation_file"]:
            files += f" and validation file: {request['validation_file']}"
        add(self.created, "created", f"Created fine-tuning job: {self.id}")
        add(self.created, "validating", f"Validating {files}")
        add(self.validated, "validated", "Files validated, moving job to queued state")
        add(self.started, "started", "Fine-tuning job started")
        points = [(step, 0) for step in self.metric_steps()]
        points += [(step, 1) for step in self.checkpoint_steps()]
        for step, is_checkpoint in sorted(points):
            at = self._step_time(step)
            if is_checkpoint:
                add(at, f"ckpt-{step}", f"Checkpoint created at step {step}")
                continue
            metrics = self.metrics(step)
            data = {
                "step": step,
                "total_steps": total,
                "train_loss": metrics["train_loss"],
                "train_mean_token_accuracy": metrics["train_mean_token_accuracy"],
            }
            message = f"Step {step}/{total}: training loss={metrics['train_loss']:.4f}"
            add(at, f"step-{step}", message, type="metrics", data=data)
        for i, (paused_at, resumed_at, _) in enumerate(self.pauses):
            add(paused_at, f"pause-{i}", "Fine-tuning job paused")
            add(resumed_at, f"resume-{i}", "Fine-tuning job resumed")
        finish = self.wall_time(self.run_seconds)
        if self.succeeds:
            add(finish, "model", f"New fine-tuned model created: {self.model_name}")
            add(finish, "succeeded", "The job has successfully completed")
        else:
            add(finish, "failed", f"The job failed: {FAILURE_ERROR['message']}", level="error")
        add(self.cancelled, "cancelled", "Fine-tuning job cancelled")
        timeline.sort(key=lambda event: event[0])  # stable: ties keep the order above
        return [
            {
                "id": f"ftevent-{stable_hex(self.id, key)}",
                "created_at": int(at),
                "level": level,
                "message": message,
                "type": type,
                "data": data,
            }
            for at, key, level, message, type, data in reversed(timeline)
        ]

    def checkpoints(self, now: float) -> list[dict[str, Any]]:
        """``RemoteCheckpoint`` fields of every checkpoint so far, newest first."""
        horizon, found = self._horizon(now), []
        for step in self.checkpoint_steps():
            at = self._step_time(step)
            if at is not None and at <= horizon:
                found.append(
                    {
                        "id": f"ftckpt-{stable_hex(self.id, 'ckpt', str(step))}",
                        "created_at": int(at),
                        "fine_tuned_model_checkpoint": f"{self.model_name}:ckpt-step-{step}",
                        "step_number": step,
                        "metrics": self.metrics(step),
                    }
                )
        return found[::-1]

    def results_csv(self) -> tuple[str, bytes]:
        """``(file id, bytes)`` of the results file of a succeeded job."""
        rows = ["step,train_loss,train_accuracy,valid_loss,valid_mean_token_accuracy"]
        for step in self.metric_steps():
            m = self.metrics(step)
            values = [
                m["train_loss"],
                m["train_mean_token_accuracy"],
                m["valid_loss"],
                m["valid_mean_token_accuracy"],
            ]
            rows.append(",".join([str(step)] + ["" if v is None else str(v) for v in values]))
        return f"file-{stable_hex(self.id, 'results', length=32)}", "\n".join(rows).encode() + b"\n"


def page_after(items: list[Any], after: str | None, limit: int) -> Page:
    """Items after the one with id ``after`` (none if it is unknown)."""
    if after:
        ids = [item.id for item in items]
        items = items[ids.index(after) + 1 :] if after in ids else []
    return Page(items=items[:limit], has_more=len(items) > limit)
