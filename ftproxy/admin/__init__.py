"""The Django admin: keys (``keys``, with ``governance``), the read-only
ledger (``ledger``), the job admin with its actions and sync button
(``jobs``, ``retrain``), uploads (``uploads``), webhook deliveries
(``webhooks``), the dashboard (``dashboard``) and the models shutting down
soon (``shutdowns``). Importing this package registers them all."""

from . import dashboard, jobs, keys, ledger, shutdowns, uploads, webhooks  # noqa: F401
