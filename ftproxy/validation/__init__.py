"""Fine-tune JSONL checks: pure functions, no models and no HTTP."""

from .jsonl import FineTuneValidator, LineError, validate_fine_tune_file
from .lines import iter_lines

__all__ = ["FineTuneValidator", "LineError", "iter_lines", "validate_fine_tune_file"]
