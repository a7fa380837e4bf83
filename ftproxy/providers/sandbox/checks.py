"""What the sandbox checks of a job's training file before it accepts the
job, as OpenAI does: enough examples, and examples of the method's kind."""

from __future__ import annotations

import json

from ...errors import ProviderInputError
from ..data import JobCreate
from ..openai.limits import MIN_TRAINING_EXAMPLES
from .store import SandboxStore


def check_example_count(store: SandboxStore, file_id: str, *, provider: str) -> None:
    """Like OpenAI: at least ``MIN_TRAINING_EXAMPLES`` non-blank lines."""
    handle = store.open_blob(file_id)
    if handle is None:
        return
    with handle:
        examples = sum(1 for line in handle if line.strip())
    if examples < MIN_TRAINING_EXAMPLES:
        raise ProviderInputError(
            f"Training file has {examples} example(s), but must have at least "
            f"{MIN_TRAINING_EXAMPLES} examples",
            provider=provider,
            param="training_file",
            code="invalid_n_examples",
        )


def check_method_fits_file(store: SandboxStore, job: JobCreate, *, provider: str) -> None:
    """Like OpenAI: DPO needs preference examples, supervised tuning chat
    ones (judged by the training file's first example)."""
    method = (job.method or {}).get("type") or "supervised"
    if method not in ("supervised", "dpo"):
        return
    handle = store.open_blob(job.training_file)
    if handle is None:
        return
    with handle:
        first = b""
        while not first.strip():
            first = handle.readline(1 << 20)
            if not first:
                return
    try:
        example = json.loads(first)
    except ValueError:
        return  # validated at upload: nothing to judge
    preference = (
        isinstance(example, dict)
        and "preferred_output" in example
        or (isinstance(example, dict) and "preferred_completion" in example)
    )
    if (method == "dpo") != preference:
        wanted = "preference (DPO)" if method == "dpo" else "chat"
        raise ProviderInputError(
            f"invalid training_file: method {method!r} needs {wanted} examples",
            provider=provider,
            param="training_file",
            code="invalid_training_file",
        )
