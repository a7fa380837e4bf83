"""The provider × feature table, read from what each provider class
declares (``Provider``'s class attributes), so the docs cannot drift from
the code: the docs build puts it in place of ``PLACEHOLDER`` (see the
mkdocs hook in ``docs/hooks/``).

Pure: it reads class attributes only (no settings, no HTTP).
"""

from __future__ import annotations

from collections.abc import Iterable

from .base import Provider

#: Where the table goes in a docs page.
PLACEHOLDER = "<!-- provider-features -->"
#: ``method.type`` values, in OpenAI's order.
METHODS = ("supervised", "dpo", "reinforcement")

COLUMNS = (
    "provider",
    "methods",
    "LoRA / full",
    "pause",
    "events",
    "checkpoints",
    "continued training",
    "result files",
    "Uploads API",
    "webhooks in",
    "its own hyperparameters",
)


def _yes(flag: bool) -> str:
    return "yes" if flag else "no"


def feature_row(cls: type[Provider]) -> list[str]:
    """One row: what ``cls`` declares, in words."""
    methods = [m for m in METHODS if m in cls.training_methods]
    modes = [m for m in ("lora", "full") if m in cls.tuning_modes]
    extras = ", ".join(f"`{name}`" for name in sorted(cls.extra_hyperparameters))
    return [
        f"`{cls.kind}`",
        ", ".join(methods),
        " / ".join({"lora": "LoRA", "full": "full"}[m] for m in modes) or "the upstream's",
        _yes(cls.can_pause),
        "the upstream's" if cls.lists_events else "the gateway's status history",
        _yes(cls.lists_checkpoints),
        _yes(cls.continues_training),
        "files" if cls.result_files_are_files else "no",
        "forwarded" if cls.forwards_uploads else "parts kept, sent whole",
        _yes("webhook_secret" in cls.options),
        extras or "none",
    ]


def feature_table(classes: Iterable[type[Provider]]) -> str:
    """The Markdown table of ``classes``, one row each, sorted by kind."""
    rows = [feature_row(cls) for cls in sorted(classes, key=lambda c: c.kind)]
    lines = [
        "| " + " | ".join(COLUMNS) + " |",
        "|" + "---|" * len(COLUMNS),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]
    return "\n".join(lines)
