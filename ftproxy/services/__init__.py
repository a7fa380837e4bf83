"""Services: the ledger's rules and the order of every operation.

A view parses and shapes; a service owns the ledger and decides what
happens in which order: **record first, call the provider second, record
the outcome** (see ``ledger.reconcile`` for a create whose outcome is not
known). Services call providers through ``CallContext.upstream`` and get
plain data back; they never import ``api`` (nor does anything under
``providers`` import them).

Packages, each importing only those listed before it (no cycles between
packages or between modules):

- ``accounts``: what belongs to one API key: training budgets and
  active-job quotas (``budgets``), its webhook URL, secret and the
  delivery of outgoing webhooks (``webhooks``).
- ``ledger``: what every subject shares: who is calling (``context``),
  finding, paging and adopting rows and choosing the provider entry
  (``common``), recording a job's status with its events, webhook event
  and signal (``status``), linking a created row or settling one whose
  create failed or is in doubt (``reconcile``), and ``Idempotency-Key``
  replays (``idempotency``).
- ``files``: the Files API (``service``), the bytes of an upload hashed
  and validated in one pass, and held back from a provider that is sent
  them meanwhile (``scan``), and the cleanup of spooled request bodies
  (``spool``).
- ``uploads``: the Uploads API: create, parts, cancel (``service``),
  completion (``complete``), an upload's states (``states``), its parts
  on disk (``store``) and the cleanup of expired uploads (``cleanup``).
- ``jobs``: fine-tuning jobs (``service``, with ``metadata``), files
  copied across providers for a job (``copies``, ``transfer``), status
  sync (``sync``, ``leases``, ``fetchers``, ``sync_health``), continued
  tuning (``continuation``), retraining on another entry (``retrain``)
  and inbound provider webhooks (``inbound_webhooks``).

Names starting with ``_`` stay inside their module.
"""
