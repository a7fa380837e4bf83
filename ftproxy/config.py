"""Load the gateway's YAML configuration (LiteLLM's format).

Call ``load_config(path)`` from a Django settings module and assign the
result to ``settings.FTPROXY``. Every error raises ``ConfigError`` with the
file, the entry and the key in its message; secret values are never echoed.
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import os
from pathlib import Path
from typing import Any

import yaml

from .errors import ConfigError

logger = logging.getLogger("ftproxy.config")

ENV_PREFIX = "os.environ/"
PROVIDER_SECTIONS = ("finetune_settings", "files_settings")
OUR_SECTIONS = frozenset({"general_settings", "ftproxy_settings", *PROVIDER_SECTIONS})
#: Top-level sections of a LiteLLM proxy config that the gateway has no use for.
LITELLM_SECTIONS = frozenset(
    {
        "model_list",
        "litellm_settings",
        "router_settings",
        "environment_variables",
        "callback_settings",
        "credential_list",
        "guardrails",
        "mcp_servers",
        "mcp_tools",
        "search_tools",
        "vector_store_registry",
        "prompts",
        "include",
        "pass_through_endpoints",
        "assistant_settings",
    }
)
FTPROXY_DEFAULTS: dict[str, Any] = {
    "max_upload_mb": 512,
    "max_upload_total_mb": 8192,
    "fine_tuning_pricing": {},
    "sync_interval_seconds": 60,
    "unpriced_jobs": "refuse",
}
#: What a key with a budget may do with a job whose cost cannot be estimated.
UNPRICED_JOBS = ("refuse", "allow")


def _resolve_env(value: Any, where: str, source: str) -> Any:
    """Replace ``os.environ/NAME`` strings (at any depth) by the variable's value."""
    if isinstance(value, str) and value.startswith(ENV_PREFIX):
        name = value[len(ENV_PREFIX) :]
        if not name:
            raise ConfigError(f"{source}: {where}: 'os.environ/' needs a variable name")
        if name not in os.environ:
            raise ConfigError(f"{source}: {where}: environment variable {name} is not set")
        return os.environ[name]
    if isinstance(value, dict):
        return {k: _resolve_env(v, f"{where}.{k}", source) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_env(v, f"{where}[{i}]", source) for i, v in enumerate(value)]
    return value


def _number(
    value: Any, where: str, source: str, *, minimum: float = 0, integer: bool = False
) -> float:
    """A finite number (or numeric string, as environment variables give) >= minimum.

    With ``integer``, the value must also be a whole number. The message never
    shows a string value: it may have come from a secret environment variable.
    """
    kind = "a whole number" if integer else "a number"
    if isinstance(value, bool):
        raise ConfigError(f"{source}: {where}: must be {kind}, not {value!r}")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{source}: {where}: must be {kind}") from None
    if not math.isfinite(number) or (integer and not number.is_integer()):
        raise ConfigError(f"{source}: {where}: must be {kind}")
    if number < minimum:
        raise ConfigError(f"{source}: {where}: must be at least {minimum:g}")
    return number


def _check_webhook_secret(value: Any, where: str, source: str) -> None:
    """OpenAI's webhook signing secret: a non-empty string; a ``whsec_`` one
    must be base64 (never echoed)."""
    if not isinstance(value, str) or not value:
        raise ConfigError(f"{source}: {where}: must be a non-empty string")
    if value.startswith("whsec_"):
        try:
            base64.b64decode(value[len("whsec_") :], validate=True)
        except (binascii.Error, ValueError):
            raise ConfigError(f"{source}: {where}: 'whsec_' must be followed by base64") from None


def _check_entry(raw: Any, section: str, index: int, source: str) -> dict[str, Any]:
    from .providers import PROVIDER_CLASSES, provider_class

    if not isinstance(raw, dict):
        raise ConfigError(f"{source}: {section}[{index}]: each entry must be a mapping")
    kind = raw.get("custom_llm_provider")
    label = f"{section}[{index}]"
    if not kind:
        raise ConfigError(f"{source}: {label}: key 'custom_llm_provider' is required")
    if kind not in PROVIDER_CLASSES:
        known = ", ".join(sorted(PROVIDER_CLASSES))
        raise ConfigError(
            f"{source}: {label}: custom_llm_provider {kind!r} is not supported (one of: {known})"
        )
    label = f"{section}[{index}] ({raw.get('name') or kind})"
    cls = provider_class(kind)
    allowed = cls.COMMON_OPTIONS | cls.options
    for key in raw:
        if key not in allowed:
            raise ConfigError(
                f"{source}: {label}: unknown key {key!r} for {kind} "
                f"(allowed: {', '.join(sorted(allowed))})"
            )
    for key in sorted(cls.required_options):
        if raw.get(key) in (None, ""):
            raise ConfigError(f"{source}: {label}: key {key!r} is required for {kind}")
    entry = _resolve_env(dict(raw), label, source)
    for key in sorted(cls.required_options):
        if entry.get(key) in (None, ""):  # e.g. os.environ/VAR with VAR set to ""
            raise ConfigError(
                f"{source}: {label}: key {key!r} is required for {kind} "
                f"(it resolved to an empty value)"
            )
    for key in ("name", "custom_llm_provider"):
        if key in entry and (not isinstance(entry[key], str) or "/" in entry[key]):
            raise ConfigError(f"{source}: {label}: key {key!r} must be a string without '/'")
    if entry.get("timeout") is not None:
        entry["timeout"] = _number(entry["timeout"], f"{label}.timeout", source, minimum=0.001)
    if entry.get("max_retries") is not None:
        entry["max_retries"] = int(
            _number(entry["max_retries"], f"{label}.max_retries", source, integer=True)
        )
    if "webhook_secret" in entry:
        _check_webhook_secret(entry["webhook_secret"], f"{label}.webhook_secret", source)
    entry["name"] = entry.get("name") or kind
    entry["api"] = section
    try:
        cls.check_entry(entry)
    except ValueError as exc:
        raise ConfigError(f"{source}: {label}: {exc}") from None
    return entry


def load_config(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read and validate the YAML file at ``path``; return the FTPROXY setting."""
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{source}: cannot read the config file ({exc.strerror})") from None
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        # Not str(exc): PyYAML quotes the offending source line, which may hold a secret.
        problem = getattr(exc, "problem", None) or "cannot parse"
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{source}: not valid YAML{where}: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the top level must be a mapping")

    for key in data:
        if key not in OUR_SECTIONS and key not in LITELLM_SECTIONS:
            raise ConfigError(f"{source}: unknown top-level key {key!r}")
    litellm_only = [key for key in data if key in LITELLM_SECTIONS]
    if litellm_only:
        logger.info(
            "%s: ignoring LiteLLM sections not used by ftproxy: %s",
            source,
            ", ".join(litellm_only),
        )

    general = data.get("general_settings") or {}
    if not isinstance(general, dict):
        raise ConfigError(f"{source}: general_settings must be a mapping")
    ignored = sorted(k for k in general if k != "master_key")
    if ignored:
        logger.info("%s: ignoring general_settings keys %s", source, ", ".join(ignored))
    master_key = _resolve_env(general.get("master_key"), "general_settings.master_key", source)
    if master_key is not None and (not isinstance(master_key, str) or not master_key):
        raise ConfigError(f"{source}: general_settings.master_key must be a non-empty string")

    result: dict[str, Any] = {"source": source, "master_key": master_key}
    for section in PROVIDER_SECTIONS:
        raw_entries = data.get(section) or []
        if not isinstance(raw_entries, list):
            raise ConfigError(f"{source}: {section} must be a list of entries")
        entries = [_check_entry(raw, section, i, source) for i, raw in enumerate(raw_entries)]
        seen: set[str] = set()
        for i, entry in enumerate(entries):
            if entry["name"] in seen:
                raise ConfigError(
                    f"{source}: {section}[{i}]: two entries are named {entry['name']!r}; "
                    "give one a distinct 'name'"
                )
            seen.add(entry["name"])
        result[section] = entries

    ours = data.get("ftproxy_settings") or {}
    if not isinstance(ours, dict):
        raise ConfigError(f"{source}: ftproxy_settings must be a mapping")
    ours = _resolve_env(ours, "ftproxy_settings", source)
    for key in ours:
        if key not in FTPROXY_DEFAULTS:
            raise ConfigError(
                f"{source}: ftproxy_settings: unknown key {key!r} "
                f"(allowed: {', '.join(sorted(FTPROXY_DEFAULTS))})"
            )
    settings = {**FTPROXY_DEFAULTS, **ours}
    settings["max_upload_mb"] = _number(
        settings["max_upload_mb"], "ftproxy_settings.max_upload_mb", source, minimum=0.000001
    )
    settings["max_upload_total_mb"] = _number(
        settings["max_upload_total_mb"],
        "ftproxy_settings.max_upload_total_mb",
        source,
        minimum=0.000001,
    )
    settings["sync_interval_seconds"] = _number(
        settings["sync_interval_seconds"],
        "ftproxy_settings.sync_interval_seconds",
        source,
        minimum=1,
    )
    if settings["unpriced_jobs"] not in UNPRICED_JOBS:
        raise ConfigError(
            f"{source}: ftproxy_settings.unpriced_jobs: must be one of {', '.join(UNPRICED_JOBS)}"
        )
    pricing = settings["fine_tuning_pricing"] or {}
    if not isinstance(pricing, dict):
        raise ConfigError(f"{source}: ftproxy_settings.fine_tuning_pricing must be a mapping")
    for model, price in pricing.items():
        # Checked as a number, kept as written so Decimal sees no float rounding.
        _number(price, f"ftproxy_settings.fine_tuning_pricing.{model}", source)
    settings["fine_tuning_pricing"] = {str(model): str(price) for model, price in pricing.items()}
    result.update(settings)
    return result
