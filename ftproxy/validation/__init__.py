"""Fine-tune JSONL checks: pure functions, no models and no HTTP."""

from .jsonl import FineTuneValidator, LineError, iter_lines, validate_fine_tune_file

__all__ = ["FineTuneValidator", "LineError", "iter_lines", "validate_fine_tune_file"]
