"""Ledger rows for tests that need the gateway to know an object already."""

from __future__ import annotations

from typing import Any

from ftproxy.models import File, FineTuningJob, LedgerState, Upload

FINAL = ("succeeded", "failed", "cancelled")


def ledger_file(public_id: str, *, provider: str = "openai", **fields: Any) -> File:
    """A file the ledger knows on entry ``provider`` (of the same kind)."""
    values: dict[str, Any] = {
        "public_id": public_id,
        "remote_id": public_id,
        "provider": provider,
        "provider_kind": provider,
        "filename": "t.jsonl",
        "purpose": "fine-tune",
        "created_at": 1_700_000_000,
        "ledger_state": LedgerState.OK,
    }
    return File.objects.create(**{**values, **fields})


def ledger_job(
    public_id: str, status: str = "running", *, provider: str = "openai", **fields: Any
) -> FineTuningJob:
    """A job the ledger knows on entry ``provider``, last seen in ``status``."""
    values: dict[str, Any] = {
        "public_id": public_id,
        "remote_id": public_id,
        "provider": provider,
        "provider_kind": provider,
        "model": "gpt-4o-mini-2024-07-18",
        "status": status,
        "raw_status": status,
        "terminal": status in FINAL,
        "training_file": "file-train",
        "created_at": 1_700_000_000,
        "ledger_state": LedgerState.OK,
    }
    return FineTuningJob.objects.create(**{**values, **fields})


def ledger_upload(public_id: str, **fields: Any) -> Upload:
    """A 30-byte fine-tune upload on the sandbox, started at Unix time 1."""
    values: dict[str, Any] = {
        "public_id": public_id,
        "provider": "sandbox",
        "provider_kind": "sandbox",
        "filename": "big.jsonl",
        "purpose": "fine-tune",
        "mime_type": "text/jsonl",
        "bytes": 30,
        "created_at": 1,
        "expires_at": 3601,
    }
    return Upload.objects.create(**{**values, **fields})
