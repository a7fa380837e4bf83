"""OpenAI's fine-tuning create body → a Fireworks ``SupervisedFineTuningJob``
(``method.type`` ``supervised``) or ``DpoJob`` (``dpo``).

Every field reaches Fireworks or is refused with a 400 naming it, before
anything is sent. Wire names are those of the ``fireworks-ai`` SDK's
``supervised_fine_tuning_jobs.create`` (camelCase on the wire):

- ``model`` → ``baseModel``; a model of the entry's own account
  (``accounts/{account_id}/models/…``, a tuned LoRA) → ``warmStartFrom``
  (continued training), without ``baseModel``;
- ``training_file`` / ``validation_file`` (dataset ids) → ``dataset`` /
  ``evaluationDataset`` as ``accounts/{account_id}/datasets/{id}``;
- ``n_epochs`` → ``epochs``; ``batch_size`` (examples per batch) →
  ``batchSizeSamples``; ``learning_rate_multiplier`` has no Fireworks
  meaning (Fireworks takes an absolute ``learningRate``): refused unless
  ``"auto"``;
- Fireworks' own settings by name (``EXTRA_HYPERPARAMETERS``);
- ``suffix`` → ``displayName``; one W&B integration → ``wandbConfig``
  with the entry's ``wandb_api_key``.

A DPO job (the SDK's ``dpo_jobs.create``) takes the same settings nested
in ``trainingConfig`` (``baseModel`` / ``warmStartFrom``, ``epochs``,
``batchSizeSamples``, …), ``lossConfig`` ``{"method": "DPO"}``, and no
evaluation dataset: ``validation_file``, ``beta`` (Fireworks documents no
DPO beta) and the supervised-only settings (``DPO_REFUSED``) are refused.
Fireworks reads OpenAI's preference JSONL (``input``, ``preferred_output``,
``non_preferred_output``) as is.

``seed`` and the reinforcement method are refused; ``metadata`` stays in
the gateway's ledger.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...errors import ProviderInputError
from ..data import JobCreate
from ..values import between, choice, whole

#: Fireworks' own settings accepted among the hyperparameters: name → (wire
#: field, check).
EXTRA_HYPERPARAMETERS: dict[str, tuple[str, Callable[[Any], str | None]]] = {
    "learning_rate": ("learningRate", between(0, None, open_low=True)),
    "lora_rank": ("loraRank", whole(1)),
    "max_context_length": ("maxContextLength", whole(1)),
    "early_stop": ("earlyStop", choice(True, False)),
    "eval_auto_carveout": ("evalAutoCarveout", choice(True, False)),
    "learning_rate_warmup_steps": ("learningRateWarmupSteps", whole(0)),
    "gradient_accumulation_steps": ("gradientAccumulationSteps", whole(1)),
    "weight_decay": ("optimizerWeightDecay", between(0, None)),
    "is_turbo": ("isTurbo", choice(True, False)),
    "nodes": ("nodes", whole(1)),
}
#: Supervised settings the DPO job's ``trainingConfig`` has no field for.
DPO_REFUSED = frozenset({"early_stop", "eval_auto_carveout", "is_turbo", "nodes"})
OPENAI_HYPERPARAMETERS: dict[str, tuple[str, Callable[[Any], str | None]]] = {
    "n_epochs": ("epochs", whole(1)),
    "batch_size": ("batchSizeSamples", whole(1)),
}


def _bad(message: str, param: str) -> ProviderInputError:
    return ProviderInputError(message, param=param)


def dataset_name(account: str, reference: str) -> str:
    """A dataset id (or a full dataset name) as the full resource name."""
    if reference.startswith("accounts/"):
        return reference
    return f"accounts/{account}/datasets/{reference}"


def own_model_prefix(account: str) -> str:
    return f"accounts/{account}/models/"


def _hyperparameters(job: JobCreate, kind: str = "supervised") -> dict[str, Any]:
    method = job.method or {}
    section = method.get(kind) if isinstance(method.get(kind), dict) else {}
    places = [
        ("hyperparameters", job.hyperparameters or {}),
        (f"method.{kind}.hyperparameters", section.get("hyperparameters") or {}),
    ]
    body: dict[str, Any] = {}
    seen: dict[str, tuple[Any, str]] = {}
    for where, values in places:
        for key, value in values.items():
            param = f"{where}.{key}"
            if value is None or value == "auto":
                continue
            if key == "learning_rate_multiplier":
                raise _bad(
                    f"{param}: Fireworks takes an absolute learning rate, not a multiplier; "
                    "give hyperparameters.learning_rate.",
                    param,
                )
            if kind == "dpo" and key == "beta":
                raise _bad(
                    f"{param}: Fireworks documents no beta for its DPO jobs; omit it "
                    "or leave it 'auto'.",
                    param,
                )
            if kind == "dpo" and key in DPO_REFUSED:
                raise _bad(f"{param} is not supported by Fireworks DPO jobs.", param)
            rule = OPENAI_HYPERPARAMETERS.get(key) or EXTRA_HYPERPARAMETERS.get(key)
            if rule is None:
                raise _bad(f"{param} is not supported by Fireworks.", param)
            field, check = rule
            problem = check(value)
            if problem:
                raise _bad(f"{param} {problem}.", param)
            if key in seen and seen[key][0] != value:
                raise _bad(f"{param} disagrees with {seen[key][1]}; give one.", param)
            seen[key] = (value, param)
            body[field] = value
    return body


def _wandb(job: JobCreate, options: dict[str, Any]) -> dict[str, Any] | None:
    if not job.integrations:
        return None
    if len(job.integrations) > 1:
        raise _bad("Fireworks reports to one W&B run; give one integration.", "integrations")
    integration = job.integrations[0] or {}
    wandb = integration.get("wandb") or {}
    if integration.get("type") != "wandb":
        raise _bad("integrations[0].type must be 'wandb'.", "integrations[0].type")
    if not options.get("wandb_api_key"):
        raise _bad(
            "integrations: this Fireworks entry has no wandb_api_key to report to W&B with.",
            "integrations",
        )
    if wandb.get("tags"):
        raise _bad(
            "integrations[0].wandb.tags are not supported by Fireworks.",
            "integrations[0].wandb.tags",
        )
    config = {"enabled": True, "apiKey": options["wandb_api_key"], "project": wandb.get("project")}
    if wandb.get("entity"):
        config["entity"] = wandb["entity"]
    if wandb.get("name"):
        config["runId"] = wandb["name"]
    return config


def _common(job: JobCreate, kinds: tuple[str, ...]) -> str:
    """Checks both job kinds share; the ``method.type`` asked for."""
    if job.training_type:
        raise _bad("trainingType (training tiers) is an Azure OpenAI setting.", "trainingType")
    kind = (job.method or {}).get("type") or "supervised"
    if kind not in kinds:
        raise _bad(
            f"method.type {kind!r} is not supported by this Fireworks entry ({', '.join(kinds)}).",
            "method.type",
        )
    if job.seed is not None:
        raise _bad("'seed' is not supported by Fireworks fine-tuning; omit it.", "seed")
    if not isinstance(job.model, str) or not job.model:
        raise _bad("'model' is required (e.g. accounts/fireworks/models/…).", "model")
    return kind


def _model(job: JobCreate, account: str) -> dict[str, Any]:
    if job.model.startswith(own_model_prefix(account)):
        return {"warmStartFrom": job.model}  # a LoRA of this account: continue from it
    return {"baseModel": job.model}


def job_kind(job: JobCreate) -> str:
    """``supervised`` or ``dpo``; anything else is a 400 naming ``method.type``."""
    return _common(job, ("supervised", "dpo"))


def sft_job_body(job: JobCreate, account: str, options: dict[str, Any] | None = None) -> dict:
    """The ``POST supervisedFineTuningJobs`` JSON for an OpenAI create
    request; every field reaches Fireworks or is refused with a 400 naming
    it. ``options`` are the entry's (``wandb_api_key``)."""
    options = options or {}
    _common(job, ("supervised",))
    body: dict[str, Any] = {"dataset": dataset_name(account, job.training_file)}
    body.update(_model(job, account))
    if job.validation_file:
        body["evaluationDataset"] = dataset_name(account, job.validation_file)
    body.update(_hyperparameters(job))
    if job.suffix is not None:
        body["displayName"] = job.suffix
    wandb = _wandb(job, options)
    if wandb:
        body["wandbConfig"] = wandb
    return body


def dpo_job_body(job: JobCreate, account: str, options: dict[str, Any] | None = None) -> dict:
    """The ``POST dpoJobs`` JSON for an OpenAI create request with
    ``method.type`` ``dpo``; every field reaches Fireworks or is refused
    with a 400 naming it."""
    options = options or {}
    _common(job, ("dpo",))
    if job.validation_file:
        raise _bad(
            "validation_file is not supported by Fireworks DPO jobs (they take no "
            "evaluation dataset); omit it.",
            "validation_file",
        )
    config = _model(job, account)
    config.update(_hyperparameters(job, "dpo"))
    body: dict[str, Any] = {
        "dataset": dataset_name(account, job.training_file),
        "trainingConfig": config,
        "lossConfig": {"method": "DPO"},
    }
    if job.suffix is not None:
        body["displayName"] = job.suffix
    wandb = _wandb(job, options)
    if wandb:
        body["wandbConfig"] = wandb
    return body
