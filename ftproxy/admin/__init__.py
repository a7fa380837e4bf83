"""The Django admin: keys (``keys``), the read-only ledger (``ledger``) and
the job admin with its actions and sync button (``jobs``), uploads (``uploads``). Importing this
package registers them all."""

from . import jobs, keys, ledger, uploads  # noqa: F401  (their import registers their admins)
