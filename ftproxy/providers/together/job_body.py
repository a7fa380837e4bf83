"""OpenAI's fine-tuning create body → Together AI's ``POST /fine-tunes``.

Every field reaches Together or is refused with a 400 naming it, before
anything is sent. The wire names are those of the ``together`` SDK's
``FinetuneRequest``:

- ``method.type`` ``supervised`` / ``dpo`` → ``training_method``
  ``{"method": "sft" | "dpo", …}``; OpenAI's ``beta`` → ``dpo_beta``;
- ``n_epochs``, ``batch_size`` as they are; ``learning_rate_multiplier``
  has no Together meaning (Together takes an absolute ``learning_rate``)
  and is refused unless ``"auto"``;
- Together's own settings are accepted by name beside OpenAI's
  hyperparameters (``EXTRA_HYPERPARAMETERS``): LoRA (``lora``, ``lora_r``,
  ``lora_alpha``, ``lora_dropout``, ``lora_trainable_modules`` →
  ``training_type``), the schedule (``lr_scheduler_type``,
  ``min_lr_ratio``, ``scheduler_num_cycles`` → ``lr_scheduler``) and the
  rest at the top level;
- ``seed`` → ``random_seed``; ``suffix`` (at most 40 characters);
- a W&B ``integrations`` entry → ``wandb_*``, with the entry's
  ``wandb_api_key``;
- a ``model`` naming a Together job or checkpoint (``ft-…`` or
  ``ft-…:<step>``) → ``from_checkpoint`` (continued training).

``metadata`` stays in the gateway's ledger: Together keeps none.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from ...errors import ProviderInputError
from ..data import JobCreate
from ..values import between, choice, text, whole

#: OpenAI ``method.type`` → Together ``training_method.method``.
METHODS = {"supervised": "sft", "dpo": "dpo"}
#: At most this many characters of suffix (the ``together`` SDK's ``suffix``).
MAX_SUFFIX = 40
#: A Together job id, optionally with a checkpoint step (``from_checkpoint``).
CHECKPOINT = re.compile(r"^ft-[0-9a-fA-F-]+(?::\d+)?$")


def _bad(message: str, param: str) -> ProviderInputError:
    return ProviderInputError(message, param=param)


#: Together's own settings accepted among the hyperparameters: name → its
#: check and the methods it applies to (None: every method).
EXTRA_HYPERPARAMETERS: dict[str, tuple[Callable[[Any], str | None], frozenset | None]] = {
    "learning_rate": (between(0, None, open_low=True), None),
    "n_checkpoints": (whole(1), None),
    "n_evals": (whole(0), None),
    "warmup_ratio": (between(0, 1), None),
    "max_grad_norm": (between(0, None), None),
    "weight_decay": (between(0, None), None),
    "max_seq_length": (whole(1), None),
    "lr_scheduler_type": (choice("linear", "cosine"), None),
    "min_lr_ratio": (between(0, 1), None),
    "scheduler_num_cycles": (between(0, None, open_low=True), None),
    "lora": (choice(True, False), None),
    "lora_r": (whole(1), None),
    "lora_alpha": (between(0, None, open_low=True), None),
    "lora_dropout": (between(0, 1, open_high=True), None),
    "lora_trainable_modules": (text, None),
    "train_on_inputs": (choice(True, False, "auto"), frozenset({"supervised"})),
    "dpo_normalize_logratios_by_length": (choice(True, False), frozenset({"dpo"})),
    "rpo_alpha": (between(0, None), frozenset({"dpo"})),
    "simpo_gamma": (between(0, None), frozenset({"dpo"})),
}
#: OpenAI's hyperparameters Together takes under the same meaning.
OPENAI_HYPERPARAMETERS = {
    "n_epochs": (whole(1), None),
    "batch_size": (whole(1), None),
    "beta": (between(0, None, open_low=True), frozenset({"dpo"})),
}
TOP_LEVEL = (
    "n_epochs",
    "batch_size",
    "learning_rate",
    "n_checkpoints",
    "n_evals",
    "warmup_ratio",
    "max_grad_norm",
    "weight_decay",
    "max_seq_length",
)
LORA_OPTIONS = ("lora_r", "lora_alpha", "lora_dropout", "lora_trainable_modules")


def method_kind(job: JobCreate) -> str:
    """The job's OpenAI ``method.type`` (supervised when none), or a 400."""
    method = job.method or {}
    kind = method.get("type") or "supervised"
    if kind not in METHODS:
        raise _bad(
            f"method.type {kind!r} is not supported by Together AI (supervised or dpo).",
            "method.type",
        )
    return kind


def hyperparameters(job: JobCreate, kind: str) -> dict[str, tuple[Any, str]]:
    """Every hyperparameter the job sets (not ``"auto"``), with the param
    that named it, checked against Together's rules."""
    method = job.method or {}
    section = method.get(kind) if isinstance(method.get(kind), dict) else {}
    places = [
        ("hyperparameters", job.hyperparameters or {}),
        (f"method.{kind}.hyperparameters", section.get("hyperparameters") or {}),
    ]
    found: dict[str, tuple[Any, str]] = {}
    for where, values in places:
        for key, value in values.items():
            param = f"{where}.{key}"
            if value is None or value == "auto" and key != "train_on_inputs":
                continue
            if key == "learning_rate_multiplier":
                raise _bad(
                    f"{param}: Together AI takes an absolute learning rate, not a multiplier; "
                    "give hyperparameters.learning_rate (e.g. 1e-5, Together's default).",
                    param,
                )
            rule = OPENAI_HYPERPARAMETERS.get(key) or EXTRA_HYPERPARAMETERS.get(key)
            if rule is None:
                raise _bad(f"{param} is not supported by Together AI.", param)
            check, methods = rule
            if methods is not None and kind not in methods:
                raise _bad(f"{param} applies only to method {'/'.join(sorted(methods))}.", param)
            problem = check(value)
            if problem:
                raise _bad(f"{param} {problem}.", param)
            if key in found and found[key][0] != value:
                raise _bad(f"{param} disagrees with {found[key][1]}; give one.", param)
            found[key] = (value, param)
    return found


def _lr_scheduler(hyper: dict[str, tuple[Any, str]]) -> dict[str, Any] | None:
    names = ("lr_scheduler_type", "min_lr_ratio", "scheduler_num_cycles")
    if not any(name in hyper for name in names):
        return None
    # The together SDK's default scheduler is cosine.
    kind = hyper["lr_scheduler_type"][0] if "lr_scheduler_type" in hyper else "cosine"
    args: dict[str, Any] = {}
    if "min_lr_ratio" in hyper:
        args["min_lr_ratio"] = hyper["min_lr_ratio"][0]
    if "scheduler_num_cycles" in hyper:
        if kind != "cosine":
            raise _bad(
                "scheduler_num_cycles applies only to lr_scheduler_type 'cosine'.",
                hyper["scheduler_num_cycles"][1],
            )
        args["num_cycles"] = hyper["scheduler_num_cycles"][0]
    scheduler: dict[str, Any] = {"lr_scheduler_type": kind}
    if args:
        scheduler["lr_scheduler_args"] = args
    return scheduler


def _training_type(hyper: dict[str, tuple[Any, str]]) -> dict[str, Any] | None:
    """LoRA (Together's default, left to it when nothing is set) or Full."""
    lora = hyper["lora"][0] if "lora" in hyper else True
    given = [name for name in LORA_OPTIONS if name in hyper]
    if not lora:
        if given:
            raise _bad(
                f"{given[0]} applies only to LoRA training (lora: true).", hyper[given[0]][1]
            )
        return {"type": "Full"}
    if not given and "lora" not in hyper:
        return None
    body: dict[str, Any] = {"type": "Lora"}
    for name in LORA_OPTIONS:
        if name in hyper:
            body[name] = hyper[name][0]
    if "lora_r" in body and "lora_alpha" not in body:
        body["lora_alpha"] = body["lora_r"] * 2  # the together SDK's default
    return body


def _training_method(kind: str, hyper: dict[str, tuple[Any, str]]) -> dict[str, Any]:
    method: dict[str, Any] = {"method": METHODS[kind]}
    if kind == "supervised":
        method["train_on_inputs"] = (
            hyper["train_on_inputs"][0] if "train_on_inputs" in hyper else "auto"
        )
        return method
    if "beta" in hyper:
        method["dpo_beta"] = hyper["beta"][0]
    for name in ("dpo_normalize_logratios_by_length", "rpo_alpha", "simpo_gamma"):
        if name in hyper:
            method[name] = hyper[name][0]
    return method


def _wandb(job: JobCreate, options: dict[str, Any]) -> dict[str, Any]:
    if not job.integrations:
        return {}
    if len(job.integrations) > 1:
        raise _bad("Together AI reports to one W&B run; give one integration.", "integrations")
    integration = job.integrations[0] or {}
    wandb = integration.get("wandb") or {}
    if integration.get("type") != "wandb":
        raise _bad("integrations[0].type must be 'wandb'.", "integrations[0].type")
    if not options.get("wandb_api_key"):
        raise _bad(
            "integrations: this Together AI entry has no wandb_api_key to report to W&B with.",
            "integrations",
        )
    if wandb.get("tags"):
        raise _bad(
            "integrations[0].wandb.tags are not supported by Together AI.",
            "integrations[0].wandb.tags",
        )
    body = {"wandb_key": options["wandb_api_key"], "wandb_project_name": wandb.get("project")}
    if options.get("wandb_base_url"):
        body["wandb_base_url"] = options["wandb_base_url"]
    if wandb.get("name"):
        body["wandb_name"] = wandb["name"]
    if wandb.get("entity"):
        body["wandb_entity"] = wandb["entity"]
    return body


def fine_tune_body(job: JobCreate, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """The ``POST /fine-tunes`` JSON for an OpenAI create request; every
    field reaches Together or is refused with a 400 naming it. ``options``
    are the entry's (``wandb_api_key``, ``wandb_base_url``)."""
    options = options or {}
    if job.training_type:
        raise _bad("trainingType (training tiers) is an Azure OpenAI setting.", "trainingType")
    if not isinstance(job.model, str) or not job.model:
        raise _bad("'model' is required (a Together base model, or a job's checkpoint).", "model")
    kind = method_kind(job)
    hyper = hyperparameters(job, kind)
    body: dict[str, Any] = {}
    if CHECKPOINT.match(job.model):
        body["from_checkpoint"] = job.model  # the together SDK sends no model with it
    else:
        body["model"] = job.model
    body["training_file"] = job.training_file
    if job.validation_file:
        body["validation_file"] = job.validation_file
    for name in TOP_LEVEL:
        if name in hyper:
            body[name] = hyper[name][0]
    scheduler = _lr_scheduler(hyper)
    if scheduler:
        body["lr_scheduler"] = scheduler
    training_type = _training_type(hyper)
    if training_type:
        body["training_type"] = training_type
    body["training_method"] = _training_method(kind, hyper)
    if job.suffix is not None:
        if not isinstance(job.suffix, str) or len(job.suffix) > MAX_SUFFIX:
            raise _bad(f"suffix may have at most {MAX_SUFFIX} characters on Together AI.", "suffix")
        body["suffix"] = job.suffix
    if job.seed is not None:
        body["random_seed"] = job.seed
    body.update(_wandb(job, options))
    return body
