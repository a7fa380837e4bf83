"""When a fine-tuned model stops serving: its shutdown date.

The date comes from the provider class's dated table (``model_shutdowns``,
each with its source in the module that defines it), overridden and
extended by ``ftproxy_settings.model_shutdowns`` (a date, or null for none).
A fine-tuned model shuts down with its base model, so the lookup is by the
job's base model (``ft:`` names reduced to theirs, Vertex resource paths to
their last segment), matched as prices are (``pricing.lookup_by_model``).
Nothing here touches the database.
"""

from __future__ import annotations

import datetime
import re

from .conf import gateway, provider_class
from .pricing import lookup_by_model
from .validation.provider_rules import base_model

_RESOURCE_PREFIX = re.compile(r"^(?:.*/)?models/")


def table_for(provider_kind: str) -> dict[str, str | None]:
    """The shutdown dates that apply to models of an entry of ``provider_kind``."""
    cls = provider_class(provider_kind)
    shipped: dict[str, str | None] = dict(cls.model_shutdowns) if cls is not None else {}
    return {**shipped, **gateway().model_shutdowns}


def shutdown_date(provider_kind: str, model: str | None) -> datetime.date | None:
    """When fine-tunes of base ``model`` on an entry of ``provider_kind``
    shut down, or None when no table knows."""
    if not model:
        return None
    name = _RESOURCE_PREFIX.sub("", base_model(model.strip()))
    day = lookup_by_model(name, table_for(provider_kind))
    return datetime.date.fromisoformat(day) if day else None
