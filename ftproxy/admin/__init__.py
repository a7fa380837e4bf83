"""The Django admin: keys (``keys``, with ``governance``), the read-only
ledger (``ledger``), the job admin with its actions and sync button
(``jobs``, ``retrain``), uploads (``uploads``), webhook deliveries
(``webhooks``) and the dashboard (``dashboard``). Importing this package
registers them all."""

from . import dashboard, jobs, keys, ledger, uploads, webhooks  # noqa: F401  (importing registers)
