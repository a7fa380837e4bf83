"""The Django admin: keys (``keys``), the read-only ledger (``ledger``) and
the job admin with its actions and sync button (``jobs``). Importing this
package registers them all."""

from . import dashboard, jobs, keys, ledger  # noqa: F401  (their import registers their admins)
