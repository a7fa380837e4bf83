"""Fine-tuning jobs: create and act on them, copy their files across
providers, keep their status in sync, retrain and continue them."""
