"""The Django admin: keys (``keys``, with ``governance``), the read-only
ledger (``ledger``), the job admin with its actions and sync button
(``jobs``, ``retrain``), uploads (``uploads``) and webhook deliveries
(``webhooks``). Importing this package registers them all."""

from . import jobs, keys, ledger, uploads, webhooks  # noqa: F401  (importing registers them)
