"""Checks of provider-specific hyperparameter values: each returns what is
wrong with a value (to follow its param in a 400), or None."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def whole(low: int) -> Callable[[Any], str | None]:
    """A whole number of at least ``low``."""

    def check(value: Any) -> str | None:
        ok = number(value) and float(value).is_integer() and value >= low
        return None if ok else f"must be a whole number >= {low}"

    return check


def between(low: float, high: float | None, *, open_low=False, open_high=False):
    """A number from ``low`` to ``high`` (None: no bound), either end open."""

    def check(value: Any) -> str | None:
        if not number(value):
            return "must be a number"
        if (value <= low) if open_low else (value < low):
            return f"must be {'>' if open_low else '>='} {low:g}"
        if high is not None and ((value >= high) if open_high else (value > high)):
            return f"must be {'<' if open_high else '<='} {high:g}"
        return None

    return check


def choice(*choices: Any) -> Callable[[Any], str | None]:
    """One of ``choices``, of the same type (``True`` is not ``1``)."""

    def check(value: Any) -> str | None:
        ok = any(value is c or (value == c and type(value) is type(c)) for c in choices)
        return None if ok else f"must be one of {', '.join(map(repr, choices))}"

    return check


def text(value: Any) -> str | None:
    """A non-empty string."""
    return None if isinstance(value, str) and value.strip() else "must be a non-empty string"
