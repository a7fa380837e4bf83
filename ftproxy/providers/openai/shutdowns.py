"""When OpenAI shuts down fine-tuned models, by base model.

A fine-tuned model keeps serving until its base model shuts down (OpenAI's
fine-tuning wind-down notice of 2026-05-07 on its deprecations page:
"inference on existing fine-tuned models keeps running until the underlying
base models are retired"). Dates from https://developers.openai.com/api/docs/deprecations
(read 2026-12):

- notice of 2026-10-14: ``gpt-4o-2024-08-06``, ``gpt-4o-2024-11-20``,
  ``gpt-4o-mini-2024-07-18``, ``gpt-4.1-2025-04-14``,
  ``gpt-4.1-mini-2025-04-14`` and their fine-tunes shut down on 2027-01-14;
- notice of 2026-04-22 ("Legacy GPT model snapshots"): ``gpt-3.5-turbo-0125``
  and ``gpt-4-0613`` shut down on 2026-10-23.

Keys are matched as prices are (``ftproxy.pricing.lookup_by_model``): the
bare names cover every dated snapshot of them. Override or extend the table
with ``ftproxy_settings.model_shutdowns``.
"""

from __future__ import annotations

OPENAI_SHUTDOWNS: dict[str, str] = {
    "gpt-4o": "2027-01-14",
    "gpt-4o-mini": "2027-01-14",
    "gpt-4.1": "2027-01-14",
    "gpt-4.1-mini": "2027-01-14",
    "gpt-3.5-turbo": "2026-10-23",
    "gpt-4-0613": "2026-10-23",
}
