"""Load the gateway's YAML configuration (LiteLLM's format).

Call ``load_config(path)`` from a Django settings module and assign the
result to ``settings.FTPROXY``. Every error raises ``ConfigError`` with the
file, the entry and the key in its message; secret values are never echoed.

A site whose management commands must run without the master key (``help``,
``check``, ``migrate``, creating keys) loads with ``master_key_optional=True``:
a master key read from an unset variable is then left out, and the server
calls ``require_master_key`` at start-up, which refuses to serve without it.
"""

from __future__ import annotations

import datetime
import logging
import os
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import yaml

from .checks import SECTIONS, check_section, number
from .conf import PROVIDER_CLASSES
from .errors import ConfigError, EntryError
from .providers import DEFAULT_PROVIDER_CLASSES, classes_by_kind

logger = logging.getLogger("ftproxy.config")

ENV_PREFIX = "os.environ/"
PROVIDER_SECTIONS = SECTIONS
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
    "model_shutdowns": {},
    "sync_interval_seconds": 60,
    "sync_watcher": False,
    "unpriced_jobs": "refuse",
    "upload_storage": None,
}
#: The keys of ``ftproxy_settings.upload_storage``.
UPLOAD_STORAGE_KEYS = ("backend", "options")
#: The key of the FTPROXY setting that holds why the master key the config
#: asks for is missing (``load_config(..., master_key_optional=True)``).
MASTER_KEY_MISSING = "master_key_missing"
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
    """``checks.number`` with the file named in its message."""
    try:
        return number(value, where, minimum=minimum, integer=integer)
    except EntryError as exc:
        raise ConfigError(f"{source}: {exc}") from None


def require_master_key(raw: dict[str, Any] | None) -> None:
    """Raise ``ConfigError`` when the config (the FTPROXY setting) asks for a
    master key that its environment variable does not give: the server's
    start-up check."""
    missing = (raw or {}).get(MASTER_KEY_MISSING)
    if missing:
        raise ConfigError(
            f"{missing}: the server needs the master key (management commands run without it)"
        )


def _unset_variable(value: Any) -> bool:
    """``value`` reads a named environment variable that is not set."""
    if not isinstance(value, str) or not value.startswith(ENV_PREFIX):
        return False
    name = value[len(ENV_PREFIX) :]
    return bool(name) and name not in os.environ


def load_config(
    path: str | os.PathLike[str],
    *,
    provider_classes: Iterable[str] | None = None,
    master_key_optional: bool = False,
) -> dict[str, Any]:
    """Read and validate the YAML file at ``path``; return the FTPROXY setting.

    ``provider_classes`` (import strings) are the provider classes the
    entries may name by kind, kept as ``PROVIDER_CLASSES`` in the result;
    by default the built-in ones. With ``master_key_optional``, a master key
    read from an unset variable is not an error: the result has no master
    key and says why under ``MASTER_KEY_MISSING`` (see ``require_master_key``)."""
    source = str(path)
    paths = tuple(provider_classes or DEFAULT_PROVIDER_CLASSES)
    try:
        classes = classes_by_kind(paths)
    except ValueError as exc:
        raise ConfigError(f"{source}: PROVIDER_CLASSES: {exc}") from None
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
    missing = None
    if master_key_optional and _unset_variable(general.get("master_key")):
        name = general["master_key"][len(ENV_PREFIX) :]
        missing = f"{source}: general_settings.master_key: environment variable {name} is not set"
        master_key = None
    else:
        master_key = _resolve_env(general.get("master_key"), "general_settings.master_key", source)
    if master_key is not None and (not isinstance(master_key, str) or not master_key):
        raise ConfigError(f"{source}: general_settings.master_key must be a non-empty string")

    result: dict[str, Any] = {"source": source, "master_key": master_key}
    if missing:
        result[MASTER_KEY_MISSING] = missing
    if provider_classes is not None:
        result[PROVIDER_CLASSES] = list(paths)

    def resolve(entry: dict[str, Any], label: str) -> dict[str, Any]:
        return _resolve_env(entry, label, source)

    for section in PROVIDER_SECTIONS:
        try:
            result[section] = check_section(
                data.get(section) or [], section, classes, resolve=resolve
            )
        except EntryError as exc:
            raise ConfigError(f"{source}: {exc}") from None

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
    if not isinstance(settings["sync_watcher"], bool):
        raise ConfigError(f"{source}: ftproxy_settings.sync_watcher: must be true or false")
    if settings["unpriced_jobs"] not in UNPRICED_JOBS:
        raise ConfigError(
            f"{source}: ftproxy_settings.unpriced_jobs: must be one of {', '.join(UNPRICED_JOBS)}"
        )
    settings["upload_storage"] = _upload_storage(settings["upload_storage"], source)
    pricing = settings["fine_tuning_pricing"] or {}
    if not isinstance(pricing, dict):
        raise ConfigError(f"{source}: ftproxy_settings.fine_tuning_pricing must be a mapping")
    for model, price in pricing.items():
        # Checked as a number, kept as written so Decimal sees no float rounding.
        _number(price, f"ftproxy_settings.fine_tuning_pricing.{model}", source)
    settings["fine_tuning_pricing"] = {str(model): str(price) for model, price in pricing.items()}
    settings["model_shutdowns"] = _shutdowns(settings["model_shutdowns"], source)
    result.update(settings)
    return result


def _shutdowns(value: Any, source: str) -> dict[str, str | None]:
    """``ftproxy_settings.model_shutdowns``: ``{model: "YYYY-MM-DD" or null}``
    (null: no shutdown date, overriding a shipped one)."""
    where = "ftproxy_settings.model_shutdowns"
    if not isinstance(value or {}, dict):
        raise ConfigError(f"{source}: {where} must be a mapping of model to date")
    result: dict[str, str | None] = {}
    for model, day in (value or {}).items():
        if day is None:
            result[str(model)] = None
            continue
        text = day.isoformat() if isinstance(day, datetime.date) else str(day)
        try:
            datetime.date.fromisoformat(text)
        except ValueError:
            raise ConfigError(
                f"{source}: {where}.{model}: not a date (YYYY-MM-DD) or null: {day!r}"
            ) from None
        result[str(model)] = text
    return result


def _upload_storage(value: Any, source: str) -> dict[str, Any] | None:
    """``ftproxy_settings.upload_storage``: ``{backend: <import path>,
    options: {...}}``, the Django storage of Upload parts (``STORAGES``
    alias ``ftproxy-uploads``); None for the local default."""
    where = "ftproxy_settings.upload_storage"
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: {where} must be a mapping with backend and options")
    for key in value:
        if key not in UPLOAD_STORAGE_KEYS:
            raise ConfigError(
                f"{source}: {where}: unknown key {key!r} "
                f"(allowed: {', '.join(UPLOAD_STORAGE_KEYS)})"
            )
    backend = value.get("backend")
    if not isinstance(backend, str) or "." not in backend.strip(".") or " " in backend:
        raise ConfigError(
            f"{source}: {where}.backend must be the import path of a Django storage class "
            "(e.g. storages.backends.s3.S3Storage)"
        )
    options = value.get("options") or {}
    if not isinstance(options, dict):
        raise ConfigError(f"{source}: {where}.options must be a mapping")
    return {"backend": backend, "options": dict(options)}
