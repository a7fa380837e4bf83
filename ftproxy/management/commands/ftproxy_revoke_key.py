"""``manage.py ftproxy_revoke_key NAME``: revoke a key for good (its secret,
and one rotated out, are refused from then on). ``NAME`` is the key's name
(of a key not revoked; unambiguous), its prefix (``sk-ftp-…``) or its id
(``key-…``)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from ftproxy.services.accounts import apikeys

from ._keys import find_key


class Command(BaseCommand):
    """Revoke through the same service as ``POST /v1/keys/{id}/revoke``."""

    help = "Revoke an API key (final). Its files, jobs and audit entries stay."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name", metavar="NAME", help="The key's name, prefix or id.")

    def handle(self, *args: Any, name: str, **options: Any) -> None:
        key = find_key(name)
        was_revoked = key.revoked
        key = apikeys.revoke_key(apikeys.COMMAND_ACTOR, key)
        state = "was already revoked" if was_revoked else "is revoked"
        self.stdout.write(f"API key {key.name!r} (prefix {key.prefix}) {state}.")
