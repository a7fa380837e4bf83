"""Real examples of OpenAI's objects, as the schema shows them."""

FILE_EXAMPLE = {
    "id": "file-5f0c9e2a7b1d4c3e8a6b2d1f0e9c8b7a",
    "object": "file",
    "bytes": 140385,
    "created_at": 1765152000,
    "filename": "support-chats.jsonl",
    "purpose": "fine-tune",
    "status": "processed",
    "status_details": None,
    "expires_at": None,
}


JOB_EXAMPLE = {
    "id": "ftjob-3b1f6c2d9e8a4f70b5c4d3e2a1f0b9c8",
    "object": "fine_tuning.job",
    "created_at": 1765152060,
    "error": None,
    "fine_tuned_model": None,
    "finished_at": None,
    "hyperparameters": {"n_epochs": 3, "batch_size": 8, "learning_rate_multiplier": 1.8},
    "model": "gpt-4o-mini-2024-07-18",
    "organization_id": "org-ftproxy",
    "result_files": [],
    "seed": 7,
    "status": "running",
    "trained_tokens": None,
    "training_file": FILE_EXAMPLE["id"],
    "validation_file": None,
    "estimated_finish": 1765155660,
    "integrations": None,
    "metadata": {"team": "support"},
    "method": {"type": "supervised", "supervised": {"hyperparameters": {"n_epochs": 3}}},
}


EVENT_EXAMPLE = {
    "object": "fine_tuning.job.event",
    "id": "ftevent-42",
    "created_at": 1765152120,
    "level": "info",
    "message": "Status changed from queued to running",
    "type": "message",
    "data": {"from_status": "queued", "to_status": "running", "source": "sync"},
}


CHECKPOINT_EXAMPLE = {
    "object": "fine_tuning.job.checkpoint",
    "id": "ftckpt-7d2e9a1b",
    "created_at": 1765155000,
    "fine_tuned_model_checkpoint": "ft:gpt-4o-mini-2024-07-18:org-ftproxy::ckpt-step-300",
    "step_number": 300,
    "metrics": {"train_loss": 0.42, "valid_loss": 0.47},
    "fine_tuning_job_id": JOB_EXAMPLE["id"],
}


UPLOAD_EXAMPLE = {
    "id": "upload_9c8b7a6f5e4d3c2b1a0f9e8d",
    "object": "upload",
    "bytes": 268435456,
    "created_at": 1765152000,
    "expires_at": 1765155600,
    "filename": "support-chats.jsonl",
    "purpose": "fine-tune",
    "status": "pending",
    "file": None,
}
