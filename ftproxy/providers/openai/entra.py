"""Microsoft Entra ID sign-in for Azure OpenAI entries, through azure-identity.

An Azure entry signs in one of four ways, with LiteLLM's key names so their
configs load unchanged:

- ``api_key``: the resource key, sent as ``api-key``;
- ``azure_ad_token``: a bearer token as given (usually ``os.environ/...``);
- ``tenant_id`` + ``client_id`` + ``client_secret``: an app registration's
  client credentials (``ClientSecretCredential``);
- ``azure_ad_token_provider: default``: ``DefaultAzureCredential`` (managed
  identity, workload identity, environment variables, Azure CLI, ...).

The last two ask Entra ID for a token for ``COGNITIVE_SERVICES_SCOPE``;
azure-identity caches it in memory and asks again shortly before it expires,
so requests do not wait for a token they already have. Both honour
``AZURE_AUTHORITY_HOST`` (sovereign clouds), which azure-identity reads itself.
"""

from __future__ import annotations

from typing import Any

import requests
from azure.core.exceptions import AzureError

from ...errors import ProviderAuthError

COGNITIVE_SERVICES_SCOPE = "https://cognitiveservices.azure.com/.default"
CLIENT_CREDENTIAL_KEYS = ("tenant_id", "client_id", "client_secret")
TOKEN_PROVIDERS = ("default",)
#: Entry keys of each sign-in way, in the order they are described.
SIGN_IN_KEYS = frozenset({"api_key", "azure_ad_token", "azure_ad_token_provider"}) | frozenset(
    CLIENT_CREDENTIAL_KEYS
)


def _given(entry: dict[str, Any], key: str) -> bool:
    return entry.get(key) not in (None, "")


def sign_in_way(entry: dict[str, Any]) -> str:
    """Which way the entry signs in: ``api_key``, ``azure_ad_token``,
    ``client_secret`` or ``azure_ad_token_provider``. Raises ValueError
    naming the keys when there is none, more than one, or a partial one."""
    client_keys = [key for key in CLIENT_CREDENTIAL_KEYS if _given(entry, key)]
    ways = [
        key
        for key in ("api_key", "azure_ad_token", "azure_ad_token_provider")
        if _given(entry, key)
    ]
    if client_keys:
        ways.append("client_secret")
    if not ways:
        raise ValueError(
            "needs one way to sign in: 'api_key', 'azure_ad_token', "
            "'tenant_id' + 'client_id' + 'client_secret', or 'azure_ad_token_provider: default'"
        )
    if len(ways) > 1:
        shown = ["tenant_id/client_id/client_secret" if w == "client_secret" else w for w in ways]
        raise ValueError(
            f"sets {' and '.join(repr(w) for w in shown)}: give exactly one way to sign in"
        )
    if ways == ["client_secret"]:
        missing = [key for key in CLIENT_CREDENTIAL_KEYS if key not in client_keys]
        if missing:
            raise ValueError(
                f"key {missing[0]!r} is required with "
                f"{', '.join(repr(k) for k in client_keys)} (client credentials need "
                "'tenant_id', 'client_id' and 'client_secret')"
            )
    if ways == ["azure_ad_token_provider"]:
        value = entry["azure_ad_token_provider"]
        if value not in TOKEN_PROVIDERS:
            # Never echo the value: it may have come from the environment.
            raise ValueError(
                "key 'azure_ad_token_provider' must be 'default' (DefaultAzureCredential)"
            )
    return ways[0]


def check_sign_in(entry: dict[str, Any]) -> None:
    """Validate the entry's sign-in keys (see ``sign_in_way``) and that its
    credential can be built; ValueError naming the key, never its value."""
    way = sign_in_way(entry)
    try:
        build_credential(entry)
    except ValueError:
        if way == "client_secret":
            raise ValueError(
                "key 'tenant_id' is not a tenant id (letters, digits, '-' and '.')"
            ) from None
        raise ValueError(f"the {way!r} credential cannot be built") from None


def build_credential(entry: dict[str, Any]) -> Any:
    """The azure-identity credential of an entry that signs in with client
    credentials or ``azure_ad_token_provider``; None for the other ways.
    Building one makes no network call."""
    way = sign_in_way(entry)
    if way == "client_secret":
        from azure.identity import ClientSecretCredential

        return ClientSecretCredential(
            str(entry["tenant_id"]), str(entry["client_id"]), str(entry["client_secret"])
        )
    if way == "azure_ad_token_provider":
        from azure.identity import DefaultAzureCredential

        return DefaultAzureCredential()
    return None


class EntraBearerAuth(requests.auth.AuthBase):
    """Sets ``Authorization: Bearer <token>`` on each request from an
    azure-identity credential (which caches and refreshes the token).

    A token that cannot be had is the gateway's own credentials problem: a
    ``ProviderAuthError`` (502) naming the entry. Its text is azure-identity's
    first line (it names the credential and Entra's error code), with any
    configured secret removed.
    """

    def __init__(self, credential: Any, provider: str, secrets: tuple[str, ...] = ()):
        self.credential = credential
        self.provider = provider
        self.secrets = tuple(s for s in secrets if s)

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        try:
            token = self.credential.get_token(COGNITIVE_SERVICES_SCOPE).token
        except AzureError as exc:
            raise ProviderAuthError(
                f"The provider '{self.provider}' could not obtain a Microsoft Entra ID token "
                f"({self._detail(exc)}); check its sign-in settings.",
                provider=self.provider,
            ) from exc
        request.headers["Authorization"] = f"Bearer {token}"
        return request

    def _detail(self, exc: Exception) -> str:
        text = str(getattr(exc, "message", None) or exc).strip().splitlines()
        detail = text[0][:300] if text else ""
        for secret in self.secrets:
            detail = detail.replace(secret, "[redacted]")
        return f"{type(exc).__name__}: {detail}" if detail else type(exc).__name__
