"""Retraining: re-create a job from the ledger on another fine-tuning entry.

The new job gets the old one's training and validation files (copied to the
new entry as any cross-provider job's files are), its hyperparameters or
``method`` as they were requested, its suffix and metadata, and its Azure
training tier when the new entry has tiers; it is owned by the same key and
records the job it came from (``retrained_from``).
"""

from __future__ import annotations

from typing import Any

from ...conf import FINE_TUNING, gateway, provider_class
from ...errors import InvalidRequest, NotFoundError, UnusableFile
from ...models import File, FineTuningJob, LedgerState
from ...providers.base import Provider
from ..ledger.common import choose_provider
from ..ledger.context import CallContext, Caller
from .continuation import source_job_payload
from .copies import check_job_for
from .hyperparameters import kind_only_hyperparameters
from .service import create_job


def target_entries() -> list[tuple[str, str]]:
    """The configured fine-tuning entries a job may be retrained on: (name, kind)."""
    return sorted((name, p.kind) for name, p in gateway().entries(FINE_TUNING).items())


def retrain_job(
    job_id: str,
    provider_name: str,
    *,
    model: str | None = None,
    suffix: str | None = None,
) -> FineTuningJob:
    """Create a copy of the ledger job ``job_id`` on the fine-tuning entry
    ``provider_name``, with the rights of the key that owns the job.
    Refuses (400) a target that cannot take the job before anything is
    copied or created; upstream failures raise as for any job create."""
    job = FineTuningJob.objects.filter(public_id=job_id, ledger_state=LedgerState.OK).first()
    if job is None:
        raise NotFoundError(f"No such fine-tuning job: {job_id}")
    if job.owner is not None and job.owner.revoked:
        raise InvalidRequest(
            f"{job.public_id} belongs to the revoked API key {job.owner.name!r}; a retrain "
            "would belong to it too, and no one could use it.",
            param="job_id",
        )
    provider = choose_provider(FINE_TUNING, provider_name)
    if provider.name == job.provider:
        raise InvalidRequest(
            f"{job.public_id} is already on {job.provider!r}; name another entry.",
            param="custom_llm_provider",
        )
    if not job.training_file:
        raise UnusableFile(
            f"{job.public_id} has no training file in the ledger to train on.",
            param="training_file",
        )
    body = retrain_body(job, type(provider), model=model, suffix=suffix)
    if job.training_type and provider.accepts_training_type:
        # Azure's training tier goes along to another Azure entry; elsewhere
        # there are no tiers (the command and the admin say it stayed behind).
        body["training_type"] = job.training_type
    _refuse_foreign_hyperparameters(body, provider.kind)
    if provider.kind != job.provider_kind:
        for param in ("training_file", "validation_file"):
            file_id = getattr(job, param)
            if file_id and not _in_ledger(file_id):
                raise UnusableFile(
                    f"{param}: {file_id} of {job.public_id} is not a file in the gateway's "
                    f"ledger, so it cannot be copied to {provider.name!r}.",
                    param=param,
                )
    ctx = CallContext(caller=Caller(key=job.owner))
    # A --model naming a tuned model of the target continues from it (as a
    # create would): the target judges the job with that earlier job's payload.
    check_job_for(provider, body, source_job=source_job_payload(ctx, provider, body["model"]))
    return create_job(ctx, body, provider.name, retrained_from=job)


def tier_left_behind(source: FineTuningJob, new: FineTuningJob) -> str:
    """A note when ``source``'s training tier did not go along to ``new``
    (its entry has no tiers), else the empty string."""
    if source.training_type and not new.training_type:
        return (
            f" (training tier {source.training_type!r} left behind: "
            f"{new.provider!r} has no training tiers)"
        )
    return ""


def _refuse_foreign_hyperparameters(body: dict[str, Any], target_kind: str) -> None:
    """A hyperparameter of another kind of entry has no meaning on the
    target: refused, naming it, rather than dropped. Left at ``"auto"`` (or
    null) it asks for nothing, as leaving it out does, so it is left out."""
    method = body.get("method") or {}
    kind = method.get("type") or "supervised"
    places = [("hyperparameters", body, "hyperparameters")]
    # Copies: the body's dicts are the ledger row's own.
    spec = dict(method[kind]) if isinstance(method.get(kind), dict) else None
    if spec is not None:
        places.append((f"method.{kind}.hyperparameters", spec, "hyperparameters"))
    for where, holder, name in places:
        values = holder.get(name) or {}
        for key, kinds in kind_only_hyperparameters().items():
            if key not in values or target_kind in kinds:
                continue
            if values[key] not in (None, "auto"):
                raise InvalidRequest(
                    f"{where}.{key} exists only on {', '.join(sorted(kinds))}; "
                    f"{target_kind} cannot take it.",
                    param=f"{where}.{key}",
                )
            holder[name] = {k: v for k, v in values.items() if k != key}
            values = holder[name]
    if spec is not None:
        body["method"] = {**method, kind: spec}


def _in_ledger(file_id: str) -> bool:
    return File.objects.filter(
        public_id=file_id, deleted=False, ledger_state=LedgerState.OK
    ).exists()


def retrain_body(
    job: FineTuningJob, target: type[Provider], *, model: str | None, suffix: str | None
) -> dict[str, Any]:
    """The create body that re-creates ``job`` on an entry of class ``target``."""
    requested = job.requested or {}
    # What the user asked for; older rows only have what the provider resolved.
    hyperparameters = requested.get("hyperparameters") if job.requested else job.hyperparameters
    method = requested.get("method") if job.requested else job.method
    metadata = requested.get("metadata") if job.requested else job.metadata
    body: dict[str, Any] = {
        "model": model or default_model(job, target),
        "training_file": job.training_file,
        "validation_file": job.validation_file or None,
        "hyperparameters": hyperparameters or None,
        "method": method or None,
        "suffix": suffix if suffix is not None else job.suffix,
        "metadata": metadata or None,
    }
    return {key: value for key, value in body.items() if value is not None}


def default_model(job: FineTuningJob, target_class: type[Provider]) -> str:
    """The job's own base model, when the target trains that family
    (``Provider.model_family``)."""
    source_class = provider_class(job.provider_kind)
    source = source_class.model_family if source_class else None
    target = target_class.model_family or None
    target_kind = target_class.kind
    example = (target_class.example_models or ("a base model",))[0]
    if _names_a_tuned_model(job):
        raise InvalidRequest(
            f"{job.public_id} continued from the fine-tuned model {job.model!r}, which exists "
            f"only on {job.provider!r}; name a base model for {target_kind} (e.g. {example}).",
            param="model",
        )
    if target is not None and source != target:
        raise InvalidRequest(
            f"{job.public_id} trained {job.model!r} on {job.provider_kind}; {target_kind} "
            f"trains other models: name one (e.g. {example}).",
            param="model",
        )
    return job.model


def _names_a_tuned_model(job: FineTuningJob) -> bool:
    """Whether the job's ``model`` is a model tuned on its entry (it
    continued from it), which exists only there. The entry says for the
    names it traces (``Provider.tuned_model_reference``: Vertex AI's
    resources, Together's ``ft-…`` jobs and checkpoints, a Fireworks
    account's models); OpenAI's are ``ft:…``, Azure's ``<base model>.ft-<job
    id>``. For an entry no longer configured, any resource name ("…/…")
    may be one: only base models without "/" carry over."""
    if job.model.startswith("ft:") or ".ft-" in job.model:
        return True
    source = gateway().provider(FINE_TUNING, job.provider)
    if source is None:
        return "/" in job.model
    return source.tuned_model_reference(job.model) is not None
