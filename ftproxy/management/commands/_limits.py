"""Argument types the key commands share (a module starting with "_" is not a command)."""

from __future__ import annotations

import argparse
from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

#: Written for "no limit" / "no URL".
NONE = "none"


class Unset:
    """The value of an option given as ``none``: clear the setting."""

    def __repr__(self) -> str:
        return "none"


UNSET = Unset()


def budget(value: str, *, allow_none: bool = False) -> Decimal | Unset:
    if allow_none and value.strip().lower() == NONE:
        return UNSET
    try:
        number = Decimal(value.strip().lstrip("$"))
    except InvalidOperation:
        raise argparse.ArgumentTypeError(f"not an amount in USD: {value!r}") from None
    if not number.is_finite() or number < 0:
        raise argparse.ArgumentTypeError(f"must be a non-negative amount in USD: {value!r}")
    if number >= Decimal("1e12"):  # before quantize, which cannot take huge exponents
        raise argparse.ArgumentTypeError(f"too large: {value!r}")
    if number != number.quantize(Decimal("0.01")):
        raise argparse.ArgumentTypeError(f"at most two decimals (cents): {value!r}")
    return number


def job_count(value: str, *, allow_none: bool = False) -> int | Unset:
    if allow_none and value.strip().lower() == NONE:
        return UNSET
    try:
        number = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a whole number: {value!r}") from None
    if number < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more: {value!r}")
    return number


def webhook_url(value: str) -> str | Unset:
    if value.strip().lower() == NONE:
        return UNSET
    try:
        URLValidator(schemes=["http", "https"])(value.strip())
    except ValidationError:
        raise argparse.ArgumentTypeError(f"not an http(s) URL: {value!r}") from None
    if len(value.strip()) > 2000:
        raise argparse.ArgumentTypeError("longer than 2000 characters")
    return value.strip()


def or_none(parse):
    """The same type, also accepting ``none``."""

    def parse_or_none(value: str):
        return parse(value, allow_none=True)

    return parse_or_none
