"""The ledger: every key, file, job, status change and API call.

One module a subject; every model is importable from ``ftproxy.models``.
"""

from .keys import KEY_PREFIX, KEY_PREFIX_LENGTH, ApiKey, KeyChange, hash_key
from .ledger import File, FineTuningJob, JobEvent, LedgerRow, LedgerState, mint_id
from .records import (
    SYNC_ROUND_RETENTION_DAYS,
    AuditEntry,
    Dashboard,
    IdempotencyRecord,
    ModelShutdown,
    SyncRound,
)
from .uploads import Upload, UploadPart
from .webhooks import WebhookDelivery, WebhookEvent, WebhookState

__all__ = [
    "KEY_PREFIX",
    "KEY_PREFIX_LENGTH",
    "SYNC_ROUND_RETENTION_DAYS",
    "ApiKey",
    "AuditEntry",
    "Dashboard",
    "File",
    "FineTuningJob",
    "IdempotencyRecord",
    "JobEvent",
    "KeyChange",
    "LedgerRow",
    "LedgerState",
    "ModelShutdown",
    "SyncRound",
    "Upload",
    "UploadPart",
    "WebhookDelivery",
    "WebhookEvent",
    "WebhookState",
    "hash_key",
    "mint_id",
]
