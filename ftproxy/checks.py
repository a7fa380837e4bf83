"""Checks of the provider entries, shared by Django's system checks and the
YAML loader.

A host that sets ``settings.FTPROXY`` as a plain dict gets the same errors
from ``manage.py check`` (and every command that runs the checks) as the
YAML loader raises at start-up (``ftproxy.config``): each names the entry
and the key. Each provider class owns its keys (``options``,
``required_options``) and the checks of their values (``check_entry``).

Ids: ``ftproxy.E001`` a provider class of ``FTPROXY["PROVIDER_CLASSES"]``
cannot be used; ``E002`` a section or an entry is not of the right type;
``E003`` an entry's kind (``custom_llm_provider``) is missing or unknown;
``E004`` an entry has a key its kind does not know; ``E005`` a required key
is missing or empty; ``E006`` a value is invalid; ``E007`` two entries of a
section share a name.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks

from .conf import FILES, FINE_TUNING, KIND_KEY, provider_class_paths
from .errors import EntryError
from .providers import classes_by_kind
from .providers.base import Provider

#: The sections of ``settings.FTPROXY`` that hold provider entries.
SECTIONS = (FINE_TUNING, FILES)


def number(value: Any, where: str, *, minimum: float = 0, integer: bool = False) -> float:
    """A finite number (or numeric string, as environment variables give) >= minimum.

    With ``integer``, the value must also be a whole number. The message never
    shows a string value: it may have come from a secret environment variable.
    """
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool):
        raise EntryError(f"{where}: must be {kind}, not {value!r}")
    try:
        result = float(value)
    except (TypeError, ValueError):
        raise EntryError(f"{where}: must be {kind}") from None
    if not math.isfinite(result) or (integer and not result.is_integer()):
        raise EntryError(f"{where}: must be {kind}")
    if result < minimum:
        raise EntryError(f"{where}: must be at least {minimum:g}")
    return result


def check_entry(
    raw: Any,
    section: str,
    index: int,
    classes: dict[str, type[Provider]],
    *,
    resolve: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """The entry ``raw`` (item ``index`` of ``section``) checked and completed
    (``name`` defaulted, ``api`` set); ``resolve`` replaces environment
    references once the keys are known. Raises ``EntryError`` whose message
    starts with the entry's label."""
    label = f"{section}[{index}]"
    if not isinstance(raw, dict):
        raise EntryError(f"{label}: each entry must be a mapping", check_id="ftproxy.E002")
    kind = raw.get(KIND_KEY)
    if not kind:
        raise EntryError(f"{label}: key {KIND_KEY!r} is required", check_id="ftproxy.E003")
    if not isinstance(kind, str) or kind not in classes:
        known = ", ".join(sorted(classes))
        raise EntryError(
            f"{label}: {KIND_KEY} {kind!r} is not supported (one of: {known})",
            check_id="ftproxy.E003",
        )
    label = f"{section}[{index}] ({raw.get('name') or kind})"
    cls = classes[kind]
    allowed = cls.COMMON_OPTIONS | cls.options
    for key in raw:
        if key not in allowed and not (key == "api" and raw[key] == section):
            raise EntryError(
                f"{label}: unknown key {key!r} for {kind} (allowed: {', '.join(sorted(allowed))})",
                check_id="ftproxy.E004",
            )
    for key in sorted(cls.required_options):
        if raw.get(key) in (None, ""):
            raise EntryError(
                f"{label}: key {key!r} is required for {kind}", check_id="ftproxy.E005"
            )
    entry = dict(raw)
    if resolve is not None:
        entry = resolve(entry, label)
        for key in sorted(cls.required_options):
            if entry.get(key) in (None, ""):  # e.g. os.environ/VAR with VAR set to ""
                raise EntryError(
                    f"{label}: key {key!r} is required for {kind} (it resolved to an empty value)",
                    check_id="ftproxy.E005",
                )
    for key in ("name", KIND_KEY):
        if key in entry and (not isinstance(entry[key], str) or "/" in entry[key]):
            raise EntryError(f"{label}: key {key!r} must be a string without '/'")
    if entry.get("timeout") is not None:
        entry["timeout"] = number(entry["timeout"], f"{label}.timeout", minimum=0.001)
    if entry.get("max_retries") is not None:
        entry["max_retries"] = int(
            number(entry["max_retries"], f"{label}.max_retries", integer=True)
        )
    entry["name"] = entry.get("name") or kind
    entry["api"] = section
    try:
        cls.check_entry(entry)
    except EntryError as exc:
        where = f"{label}.{exc.key}" if exc.key else label
        raise EntryError(f"{where}: {exc}", check_id=exc.check_id) from None
    except ValueError as exc:
        raise EntryError(f"{label}: {exc}") from None
    return entry


def check_section(
    raw_entries: Any,
    section: str,
    classes: dict[str, type[Provider]],
    *,
    resolve: Callable[[dict[str, Any], str], dict[str, Any]] | None = None,
) -> list[dict[str, Any]]:
    """The entries of one section checked (see ``check_entry``), names unique."""
    if not isinstance(raw_entries, list):
        raise EntryError(f"{section} must be a list of entries", check_id="ftproxy.E002")
    entries = [
        check_entry(raw, section, i, classes, resolve=resolve) for i, raw in enumerate(raw_entries)
    ]
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if entry["name"] in seen:
            raise EntryError(
                f"{section}[{i}]: two entries are named {entry['name']!r}; "
                "give one a distinct 'name'",
                check_id="ftproxy.E007",
            )
        seen.add(entry["name"])
    return entries


def check_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """The system check of ``settings.FTPROXY``'s provider entries."""
    raw = getattr(settings, "FTPROXY", None) or {}
    where = "settings.FTPROXY"
    if not isinstance(raw, dict):
        return [checks.Error(f"{where} must be a mapping", obj=where, id="ftproxy.E002")]
    try:
        classes = classes_by_kind(provider_class_paths(raw))
    except ValueError as exc:
        return [checks.Error(f"PROVIDER_CLASSES: {exc}", obj=where, id="ftproxy.E001")]
    errors = []
    for section in SECTIONS:
        try:
            # Copies: a provider's check may complete an entry it reads.
            entries = raw.get(section) or []
            if isinstance(entries, list):
                entries = [dict(e) if isinstance(e, dict) else e for e in entries]
            check_section(entries, section, classes)
        except EntryError as exc:
            errors.append(checks.Error(str(exc), obj=where, id=exc.check_id))
    return errors
