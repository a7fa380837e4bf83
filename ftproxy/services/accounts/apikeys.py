"""API keys as something a platform automates: create, list, retrieve,
update, revoke and rotate, for the keys API (master key only), the
management commands and the admin alike.

Every change is a ``KeyChange`` row, written in the transaction of the
change: who made it (``actor``), the request it came with, and each
changed field as ``[before, after]``. Secrets (the key, its webhook signing
secret) are returned once to the caller and never written there.

Rotation gives the key a new secret; the old one keeps working for a grace
period (``DEFAULT_GRACE``, at most ``MAX_GRACE``; 0 ends it at once), so
the clients using it can be moved over. A second rotation ends the grace
period of the first. Revocation ends both secrets, and is final.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.db import transaction
from django.utils import timezone

from ...conf import FILES, FINE_TUNING, gateway
from ...errors import InvalidRequest, NotFoundError
from ...models import ApiKey, KeyChange
from . import webhooks

#: How long a rotated-out secret keeps working, unless the rotation says.
DEFAULT_GRACE = datetime.timedelta(hours=24)
#: The longest grace period a rotation may ask for.
MAX_GRACE = datetime.timedelta(days=7)
#: Public ids of keys: ``key-<number>``.
ID_PREFIX = "key-"
#: The fields ``update_key`` changes (and ``create_key`` sets).
SETTINGS = (
    "name",
    "budget_usd",
    "max_active_jobs",
    "webhook_url",
    "allowed_providers",
    "allowed_models",
    "expires_at",
)

#: Who changed a key, as the trail writes it.
API_ACTOR = "master key (API)"
COMMAND_ACTOR = "manage.py"


def admin_actor(username: str) -> str:
    return f"admin user {username}"


def public_id(key: ApiKey) -> str:
    return f"{ID_PREFIX}{key.pk}"


@dataclass
class Made:
    """A key with the secrets made for it this once (never stored in the clear)."""

    key: ApiKey
    secret: str | None = None
    webhook_secret: str | None = None


def find_key(key_id: str) -> ApiKey:
    """The key with public id ``key-<n>``; 404 otherwise."""
    number = key_id[len(ID_PREFIX) :] if key_id.startswith(ID_PREFIX) else ""
    key = (
        ApiKey.objects.filter(pk=int(number)).first()
        if number.isascii() and number.isdigit()
        else None
    )
    if key is None:
        raise NotFoundError(f"No such API key: {key_id}", param="key_id")
    return key


def list_keys(*, after: str | None, limit: int) -> tuple[list[ApiKey], bool]:
    """Keys newest first, ``limit`` at a time, after the key ``after``."""
    queryset = ApiKey.objects.order_by("-pk")
    if after:
        queryset = queryset.filter(pk__lt=find_key(after).pk)
    rows = list(queryset[: limit + 1])
    return rows[:limit], len(rows) > limit


def _plain(value: Any) -> Any:
    """A value as the trail stores it (JSON)."""
    if isinstance(value, Decimal):
        return f"{value:.2f}"
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    return value


def check_settings(values: dict[str, Any]) -> None:
    """400 for an allowlist naming an entry that is not configured."""
    names = values.get("allowed_providers")
    if not names:
        return
    configured = set(gateway().entries(FILES)) | set(gateway().entries(FINE_TUNING))
    unknown = [name for name in names if name not in configured]
    if unknown:
        raise InvalidRequest(
            f"allowed_providers: {unknown[0]!r} is not a configured provider entry "
            f"(configured: {', '.join(sorted(configured)) or 'none'}).",
            param="allowed_providers",
        )


def _record(key: ApiKey, actor: str, action: str, changes: dict, request_id: str) -> None:
    KeyChange.objects.create(
        key=key,
        actor=actor[:200],
        action=action,
        changes={name: [_plain(a), _plain(b)] for name, (a, b) in changes.items()},
        request_id=request_id[:64],
    )


def _apply(key: ApiKey, values: dict[str, Any]) -> tuple[dict, str | None]:
    """Set ``values`` on ``key`` (not saved, but for its webhook secret);
    return the changes and a new webhook secret, if one was made."""
    changes: dict[str, tuple[Any, Any]] = {}
    secret = None
    for name in SETTINGS:
        if name not in values:
            continue
        value = values[name]
        if name == "webhook_url":
            before = key.webhook_url
            secret = webhooks.set_webhook_url(key, value)
            if key.webhook_url != before:
                changes[name] = (before or None, key.webhook_url or None)
            continue
        before = getattr(key, name)
        if before != value:
            setattr(key, name, value)
            changes[name] = (before, value)
    return changes, secret


def create_key(actor: str, values: dict[str, Any], *, request_id: str = "") -> Made:
    """Make a key with ``values`` (``SETTINGS``; ``name`` required)."""
    unknown = set(values) - set(SETTINGS)
    if unknown:
        raise InvalidRequest(f"Unknown key setting: {sorted(unknown)[0]}", param=sorted(unknown)[0])
    check_settings(values)
    with transaction.atomic():
        fields = {k: v for k, v in values.items() if k not in ("name", "webhook_url")}
        key, raw = ApiKey.create_key(values["name"], **fields)
        made = Made(key=key, secret=raw)
        if values.get("webhook_url"):
            made.webhook_secret = webhooks.set_webhook_url(key, values["webhook_url"])
        created = {name: (None, getattr(key, name)) for name in SETTINGS}
        created["webhook_url"] = (None, key.webhook_url or None)
        _record(
            key,
            actor,
            "created",
            {k: v for k, v in created.items() if v[1] is not None},
            request_id,
        )
    return made


def update_key(actor: str, key: ApiKey, values: dict[str, Any], *, request_id: str = "") -> Made:
    """Change the key's ``SETTINGS`` in ``values`` (a revoked key's too: it
    stays revoked, as no setting undoes that)."""
    check_settings(values)
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        changes, secret = _apply(key, values)
        fields = [name for name in changes if name != "webhook_url"]
        if fields:
            key.save(update_fields=fields)
        if changes:
            _record(key, actor, "updated", changes, request_id)
    return Made(key=key, webhook_secret=secret)


def rotate_webhook_secret(actor: str, key: ApiKey, *, request_id: str = "") -> str:
    """A new webhook signing secret for the key (it needs a webhook URL);
    returned to show once, recorded as a change without its value."""
    with transaction.atomic():
        secret = webhooks.rotate_secret(key)
        _record(key, actor, "webhook secret rotated", {}, request_id)
    return secret


def revoke_key(actor: str, key: ApiKey, *, request_id: str = "") -> ApiKey:
    """Revoke the key (and a rotated-out secret still in its grace period)."""
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        if not key.revoked:
            key.revoke()
            _record(key, actor, "revoked", {"revoked": (False, True)}, request_id)
    return key


def rotate_key(
    actor: str,
    key: ApiKey,
    grace: datetime.timedelta = DEFAULT_GRACE,
    *,
    request_id: str = "",
) -> Made:
    """A new secret for the key; the old one works for ``grace`` more."""
    if key.revoked:
        raise InvalidRequest(f"{public_id(key)} is revoked: revocation is final.")
    if not datetime.timedelta(0) <= grace <= MAX_GRACE:
        raise InvalidRequest(
            f"grace_period_seconds: must be 0 to {int(MAX_GRACE.total_seconds())}.",
            param="grace_period_seconds",
        )
    with transaction.atomic():
        key = ApiKey.objects.select_for_update().get(pk=key.pk)
        before = key.prefix
        raw = key.rotate(grace)
        _record(
            key,
            actor,
            "rotated",
            {
                "prefix": (before, key.prefix),
                "previous_key_expires_at": (None, key.previous_key_expires_at),
            },
            request_id,
        )
    return Made(key=key, secret=raw)


def utc_text(moment: datetime.datetime) -> str:
    return moment.astimezone(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def is_expired(key: ApiKey, now: datetime.datetime | None = None) -> bool:
    return key.expires_at is not None and key.expires_at <= (now or timezone.now())
