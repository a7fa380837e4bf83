"""Google credentials for the Vertex AI provider, built with google-auth.

One ``AuthorizedSession`` per configured entry, built on first use and then
shared: google-auth caches the access token on the credentials object and
refreshes it shortly before it expires, so a request never waits for a token
it does not need. The token endpoint is whatever the credentials say
(``token_uri`` of a service-account key), never a value of ours.
"""

from __future__ import annotations

import json
import os
from typing import Any

import google.auth
import google.auth.exceptions
from google.auth.transport.requests import AuthorizedSession
from google.oauth2 import credentials as user_credentials
from google.oauth2 import service_account

from ...errors import ProviderAuthError, ProviderUnavailable

CLOUD_PLATFORM_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
SCOPES = (CLOUD_PLATFORM_SCOPE,)
#: Credential JSON types accepted in ``vertex_credentials``.
KEY_TYPES = ("service_account", "authorized_user")


def credentials_info(value: Any) -> dict[str, Any] | None:
    """The credentials JSON of a ``vertex_credentials`` value (a mapping, a
    JSON string or a file path), or None when absent (use ADC).

    Raises ValueError with a message that never contains the secret itself.
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if isinstance(value, dict):
        info = value
    elif isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            info = json.loads(value)
        except ValueError:
            raise ValueError("'vertex_credentials' looks like JSON but does not parse") from None
    elif isinstance(value, str):
        path = os.path.expanduser(value.strip())
        if not os.path.isfile(path):
            # Name the path only when it looks like one: the value may be a
            # secret in some other encoding (e.g. base64) read from the environment.
            looks_like_path = value.strip().startswith(("/", "~", ".")) or path.endswith(".json")
            shown = f" {path!r}" if looks_like_path and len(path) < 300 else ""
            raise ValueError(
                f"'vertex_credentials' is neither a JSON key nor an existing file{shown}"
            )
        try:
            with open(path, encoding="utf-8") as fh:
                info = json.load(fh)
        except (OSError, ValueError) as exc:
            raise ValueError(
                f"'vertex_credentials' file {path!r} is not a readable JSON key file "
                f"({type(exc).__name__})"
            ) from None
    else:
        raise ValueError("'vertex_credentials' must be a file path or a JSON string")
    if not isinstance(info, dict) or info.get("type") not in KEY_TYPES:
        raise ValueError(
            "'vertex_credentials' must be a service-account key or authorized-user JSON "
            "(for other credential types, leave it out and use application default "
            "credentials)"
        )
    return info


def load_credentials(value: Any) -> google.auth.credentials.Credentials:
    """google-auth credentials with the cloud-platform scope: from the key in
    ``value`` if given, else application default credentials."""
    info = credentials_info(value)
    if info is None:
        credentials, _project = google.auth.default(scopes=list(SCOPES))
        return credentials
    # Only the two key types a config file should hold are built from it,
    # explicitly (google-auth's generic loader trusts any type it is given).
    # Everything else (workload identity federation, impersonation) works
    # through application default credentials.
    if info["type"] == "service_account":
        credentials = service_account.Credentials.from_service_account_info(
            info, scopes=list(SCOPES)
        )
    else:
        credentials = user_credentials.Credentials.from_authorized_user_info(
            info, scopes=list(SCOPES)
        )
    return credentials


def authorized_session(
    credentials_value: Any, provider: str, refresh_timeout: float | None = None
) -> AuthorizedSession:
    """An ``AuthorizedSession`` for the entry's credentials. Build it once per
    entry and keep it: the token it holds is reused until google-auth
    refreshes it."""
    try:
        credentials = load_credentials(credentials_value)
    except (ValueError, google.auth.exceptions.GoogleAuthError) as exc:
        # A broken or missing key is the gateway's own credentials problem
        # (502), told with the setting's name but never its value.
        raise ProviderAuthError(
            f"The provider '{provider}' has no usable Google credentials: {_detail(exc)}",
            provider=provider,
        ) from exc
    return AuthorizedSession(credentials, refresh_timeout=refresh_timeout)


def auth_error(exc: google.auth.exceptions.GoogleAuthError, provider: str) -> Exception:
    """Map a google-auth failure during a request (token refresh) to our errors."""
    if isinstance(exc, google.auth.exceptions.TransportError):
        return ProviderUnavailable(
            f"The provider '{provider}' could not reach its Google token endpoint.",
            provider=provider,
        )
    return ProviderAuthError(
        f"The provider '{provider}' could not obtain a Google access token "
        f"({_detail(exc)}); check its vertex_credentials.",
        provider=provider,
    )


def _detail(exc: Exception) -> str:
    # google-auth's messages name fields and the token endpoint's error
    # ("invalid_grant: ..."), never key material; the first argument is the
    # message, later ones the raw response.
    text = str(exc.args[0]) if exc.args else ""
    return f"{type(exc).__name__}: {text[:300]}" if text else type(exc).__name__
