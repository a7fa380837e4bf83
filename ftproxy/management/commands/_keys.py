"""Finding the key a command names (a module starting with "_" is not a command)."""

from __future__ import annotations

from django.core.management.base import CommandError

from ftproxy.models import KEY_PREFIX, ApiKey
from ftproxy.services.accounts.apikeys import ID_PREFIX


def find_key(name_or_prefix: str) -> ApiKey:
    """The key with this id (``key-…``) or prefix, or the one unrevoked key
    with this name."""
    number = name_or_prefix[len(ID_PREFIX) :]
    if name_or_prefix.startswith(ID_PREFIX) and number.isascii() and number.isdigit():
        matches = list(ApiKey.objects.filter(pk=int(number)))
    elif name_or_prefix.startswith(KEY_PREFIX):
        matches = list(ApiKey.objects.filter(prefix=name_or_prefix))
    else:
        matches = list(ApiKey.objects.filter(name=name_or_prefix, revoked=False))
    if not matches:
        raise CommandError(f"No key named {name_or_prefix!r} (or revoked; give its prefix).")
    if len(matches) > 1:
        prefixes = ", ".join(key.prefix for key in matches)
        raise CommandError(
            f"{len(matches)} keys are named {name_or_prefix!r}: give the prefix of one "
            f"({prefixes})."
        )
    return matches[0]
