"""The entry's AWS clients: credentials, endpoints, retries and the one place
where a botocore call becomes a plain answer or a ``ProviderError``.

Credentials come from the entry's keys, else botocore's default chain
(environment, shared profile, web identity, container and instance roles);
``aws_role_name`` is assumed on top of either, and assumed again before its
credentials expire. Endpoints are botocore's to resolve: it honours
``AWS_ENDPOINT_URL`` and ``AWS_ENDPOINT_URL_<SERVICE>``; ``aws_endpoint_url``
on the entry overrides both (a private endpoint, a local emulator).

Retries are botocore's ``standard`` mode (throttling, 5xx, transient
errors; backoff with jitter), ``max_retries`` of them for reads. Creates
(``CreateModelCustomizationJob``) are sent once: a create that may have
happened is left to the reconciler, as for every provider. An answer whose
``Retry-After`` asks for a longer wait than the gateway spends is passed on
to the client instead of slept on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from ...errors import ProviderError
from ..retry import RETRY_AFTER_CAP_SECONDS
from .errors import RetryAfterTooLong, client_error, transport_error

#: Assumed-role credentials are renewed this long before they expire.
RENEW_BEFORE_SECONDS = 300
ROLE_SESSION_NAME = "ftproxy"


def refuse_long_waits(response: Any = None, **_: Any) -> None:
    """``needs-retry`` handler: stop botocore from sleeping on a
    ``Retry-After`` longer than the gateway waits (it passes that on)."""
    if not response:
        return
    http, parsed = response
    header = http.headers.get("retry-after") if http is not None else None
    if not header:
        return
    try:
        seconds = float(header)
    except ValueError:
        return
    if seconds > RETRY_AFTER_CAP_SECONDS:
        raise RetryAfterTooLong(parsed, header)


class AwsClients:
    """boto3 clients for one entry, built on first use and shared by threads."""

    def __init__(self, entry: dict[str, Any], name: str, timeout: float, max_retries: int):
        self.name = name
        self.timeout = timeout
        self.max_retries = max_retries
        self.region = entry.get("aws_region_name")
        self.endpoint_url = entry.get("aws_endpoint_url")
        self.role_name = entry.get("aws_role_name")
        self._keys = {
            "aws_access_key_id": entry.get("aws_access_key_id"),
            "aws_secret_access_key": entry.get("aws_secret_access_key"),
            "aws_session_token": entry.get("aws_session_token"),
        }
        #: What an AWS answer must never be seen quoting.
        self.secrets = tuple(v for k, v in self._keys.items() if v and k != "aws_access_key_id")
        self._lock = threading.Lock()
        self._clients: dict[tuple[str, bool], Any] = {}
        self._expires_at: float | None = None
        self._base: boto3.session.Session | None = None

    def _session(self) -> boto3.session.Session:
        session = boto3.session.Session(region_name=self.region, **self._keys)
        if not self.role_name:
            return session
        sts = session.client("sts", endpoint_url=self.endpoint_url, config=self._config(True))
        role = sts.assume_role(RoleArn=self.role_name, RoleSessionName=ROLE_SESSION_NAME)
        credentials = role["Credentials"]
        self._expires_at = credentials["Expiration"].timestamp()
        self.secrets = (
            *self.secrets,
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )
        return boto3.session.Session(
            region_name=self.region,
            aws_access_key_id=credentials["AccessKeyId"],
            aws_secret_access_key=credentials["SecretAccessKey"],
            aws_session_token=credentials["SessionToken"],
        )

    def _config(self, retried: bool) -> Config:
        return Config(
            region_name=self.region,
            connect_timeout=min(self.timeout, 10.0),
            read_timeout=self.timeout,
            retries={
                "mode": "standard",
                "total_max_attempts": (self.max_retries + 1) if retried else 1,
            },
            user_agent_extra="ftproxy",
        )

    def client(self, service: str, *, retried: bool = True) -> Any:
        """The ``service`` client (``s3``, ``bedrock``); ``retried=False``:
        one attempt, for creates."""
        key = (service, retried)
        with self._lock:
            if (
                self._expires_at is not None
                and time.time() > self._expires_at - RENEW_BEFORE_SECONDS
            ):
                self._clients.clear()
                self._expires_at = None
            if key not in self._clients:
                if not self._clients:
                    self._base = self._session()
                made = self._base.client(
                    service, endpoint_url=self.endpoint_url, config=self._config(retried)
                )
                made.meta.events.register_first("needs-retry.*", refuse_long_waits)
                self._clients[key] = made
            return self._clients[key]

    def call(self, service: str, operation: str, *, retried: bool = True, **params: Any) -> Any:
        """``client.<operation>(**params)``; failures as ``ProviderError``."""
        return self.guard(
            lambda: getattr(self.client(service, retried=retried), operation)(**params)
        )

    def guard(self, action: Callable[[], Any]) -> Any:
        """Run ``action`` (botocore calls), mapping its failures."""
        try:
            return action()
        except ProviderError:
            raise
        except RetryAfterTooLong as exc:
            failed = ClientError(exc.response or {}, "call")
            raise client_error(failed, self.name, self.secrets, exc.retry_after) from exc
        except ClientError as exc:
            raise client_error(exc, self.name, self.secrets) from exc
        except BotoCoreError as exc:
            raise transport_error(exc, self.name, self.timeout) from exc
