"""Azure OpenAI entries signing in with Microsoft Entra ID.

azure-identity talks to the authority through azure-core's RequestsTransport
(``requests``), so ``responses`` plays the authority's token endpoint the
same way it plays Azure OpenAI: nothing of ours or azure-identity's is
patched. Each test uses its own tenant, so MSAL's in-process caches of one
test never answer for another.
"""

from __future__ import annotations

import itertools
import json
import re
from typing import Any
from urllib.parse import parse_qs

import pytest
import responses
import yaml

from ftproxy.config import load_config
from ftproxy.errors import ConfigError, ProviderAuthError
from ftproxy.providers.openai import AzureProvider
from tests.conftest import MASTER_KEY

API_BASE = "https://entra-res.openai.azure.com"
JOB_URL = f"{API_BASE}/openai/v1/fine_tuning/jobs/ftjob-1"
SCOPE = "https://cognitiveservices.azure.com/.default"
CLIENT_SECRET = "very-secret-client-value"
_tenants = itertools.count()


def job_json(**overrides: Any) -> dict[str, Any]:
    return {
        "id": "ftjob-1",
        "object": "fine_tuning.job",
        "model": "gpt-4.1-mini",
        "created_at": 1_700_000_000,
        "status": "running",
        "training_file": "file-1",
        "hyperparameters": {},
        "result_files": [],
        **overrides,
    }


def tenant() -> str:
    return f"tenant-{next(_tenants)}"


def entry(**sign_in: Any) -> dict[str, Any]:
    return {
        "custom_llm_provider": "azure",
        "name": "azure-entra",
        "api_base": API_BASE,
        "api_version": "v1",
        "max_retries": 0,
        **sign_in,
    }


def play_authority(
    rsps: responses.RequestsMock,
    host: str,
    tenant_id: str,
    *,
    token: str = "entra-token-1",
    status: int = 200,
    body: dict[str, Any] | None = None,
) -> responses.BaseResponse:
    """The authority's OpenID discovery document and its token endpoint;
    returns the token endpoint's mock."""
    rsps.add(
        "GET",
        re.compile(
            rf"https://{re.escape(host)}/{tenant_id}/v2\.0/\.well-known/openid-configuration"
        ),
        json={
            "token_endpoint": f"https://{host}/{tenant_id}/oauth2/v2.0/token",
            "authorization_endpoint": f"https://{host}/{tenant_id}/oauth2/v2.0/authorize",
            "issuer": f"https://{host}/{tenant_id}/v2.0",
        },
    )
    # MSAL looks the authority up when a token request fails.
    rsps.add(
        "GET",
        re.compile(rf"https://{re.escape(host)}/common/discovery/instance"),
        json={
            "tenant_discovery_endpoint": (
                f"https://{host}/{tenant_id}/v2.0/.well-known/openid-configuration"
            ),
            "api-version": "1.1",
            "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}],
        },
    )
    answer = body or {"access_token": token, "expires_in": 3600, "token_type": "Bearer"}
    return rsps.add(
        "POST", f"https://{host}/{tenant_id}/oauth2/v2.0/token", json=answer, status=status
    )


@pytest.fixture
def mocked():
    # The discovery document may come from MSAL's cache: it need not be fetched.
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        yield rsps


def assert_bearer_only(request, token: str) -> None:
    assert request.headers["Authorization"] == f"Bearer {token}"
    assert "api-key" not in request.headers


# --------------------------------------------------------------------------
# The three Entra ID ways
# --------------------------------------------------------------------------


def test_azure_ad_token_is_sent_as_a_bearer_token_and_no_api_key(mocked):
    upstream = mocked.add("GET", JOB_URL, json=job_json())
    provider = AzureProvider(entry(azure_ad_token="eyJ-static-token"))

    assert provider.retrieve_job("ftjob-1").status == "running"

    assert_bearer_only(upstream.calls[0].request, "eyJ-static-token")


def test_client_credentials_get_a_token_for_cognitive_services_and_reuse_it(mocked, monkeypatch):
    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    tenant_id = tenant()
    token_endpoint = play_authority(mocked, "login.microsoftonline.com", tenant_id)
    upstream = mocked.add("GET", JOB_URL, json=job_json())
    provider = AzureProvider(
        entry(tenant_id=tenant_id, client_id="app-1", client_secret=CLIENT_SECRET)
    )

    provider.retrieve_job("ftjob-1")
    provider.retrieve_job("ftjob-1")

    assert token_endpoint.call_count == 1  # cached by azure-identity for the second call
    form = parse_qs(token_endpoint.calls[0].request.body)
    assert form["grant_type"] == ["client_credentials"]
    assert form["client_id"] == ["app-1"]
    assert form["client_secret"] == [CLIENT_SECRET]
    assert form["scope"] == [SCOPE]
    assert upstream.call_count == 2
    for call in upstream.calls:
        assert_bearer_only(call.request, "entra-token-1")
        assert CLIENT_SECRET not in json.dumps(dict(call.request.headers))


def test_default_credential_reads_the_environment_and_honours_the_authority_host(
    mocked, monkeypatch
):
    # DefaultAzureCredential's first source is EnvironmentCredential; a
    # sovereign cloud's authority comes from AZURE_AUTHORITY_HOST.
    tenant_id = tenant()
    monkeypatch.setenv("AZURE_TENANT_ID", tenant_id)
    monkeypatch.setenv("AZURE_CLIENT_ID", "app-env")
    monkeypatch.setenv("AZURE_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("AZURE_AUTHORITY_HOST", "https://login.microsoftonline.us")
    token_endpoint = play_authority(
        mocked, "login.microsoftonline.us", tenant_id, token="entra-env-token"
    )
    upstream = mocked.add("GET", JOB_URL, json=job_json())
    provider = AzureProvider(entry(azure_ad_token_provider="default"))

    provider.retrieve_job("ftjob-1")

    assert token_endpoint.call_count == 1
    assert parse_qs(token_endpoint.calls[0].request.body)["scope"] == [SCOPE]
    assert_bearer_only(upstream.calls[0].request, "entra-env-token")


def test_a_token_that_cannot_be_had_is_a_502_naming_the_entry_without_the_secret(
    mocked, monkeypatch
):
    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    tenant_id = tenant()
    play_authority(
        mocked,
        "login.microsoftonline.com",
        tenant_id,
        status=401,
        body={
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret provided.",
        },
    )
    provider = AzureProvider(
        entry(tenant_id=tenant_id, client_id="app-1", client_secret=CLIENT_SECRET)
    )

    with pytest.raises(ProviderAuthError) as info:
        provider.retrieve_job("ftjob-1")

    err = info.value
    assert err.status_code == 502
    assert "'azure-entra'" in err.message and "Entra ID token" in err.message
    assert CLIENT_SECRET not in err.message
    assert not [c for c in mocked.calls if c.request.url.startswith(API_BASE)]  # never sent


@pytest.mark.django_db
def test_the_gateway_answers_502_when_no_token_can_be_had(
    mocked, monkeypatch, gateway_config, master
):
    monkeypatch.delenv("AZURE_AUTHORITY_HOST", raising=False)
    tenant_id = tenant()
    play_authority(
        mocked,
        "login.microsoftonline.com",
        tenant_id,
        status=400,
        body={"error": "invalid_client", "error_description": "AADSTS7000215: bad secret"},
    )
    gateway_config(
        {
            "finetune_settings": [
                entry(tenant_id=tenant_id, client_id="app-1", client_secret=CLIENT_SECRET)
            ]
        }
    )

    response = master.get("/v1/fine_tuning/jobs/ftjob-1", {"custom_llm_provider": "azure-entra"})

    assert response.status_code == 502
    error = response.json()["error"]
    assert "azure-entra" in error["message"]
    assert CLIENT_SECRET not in response.content.decode()
    assert MASTER_KEY not in response.content.decode()


# --------------------------------------------------------------------------
# Exactly one way per entry
# --------------------------------------------------------------------------


def config_error(tmp_path, **sign_in: Any) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"finetune_settings": [entry(**sign_in)]}), encoding="utf-8")
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}: finetune_settings[0] (azure-entra): ")
    return message


@pytest.mark.parametrize(
    ("sign_in", "says"),
    [
        ({}, "needs one way to sign in"),
        ({"api_key": "k", "azure_ad_token": "t"}, "'api_key' and 'azure_ad_token'"),
        (
            {"api_key": "k", "tenant_id": "t", "client_id": "c", "client_secret": "s"},
            "'api_key' and 'tenant_id/client_id/client_secret'",
        ),
        ({"azure_ad_token": "t", "azure_ad_token_provider": "default"}, "exactly one way"),
        ({"tenant_id": "t", "client_id": "c"}, "key 'client_secret' is required"),
        ({"client_secret": "s"}, "key 'tenant_id' is required"),
        ({"azure_ad_token_provider": "managed"}, "must be 'default'"),
        (
            {"tenant_id": "not a tenant/very", "client_id": "c", "client_secret": "s"},
            "key 'tenant_id' is not a tenant id",
        ),
    ],
    ids=[
        "none",
        "key-and-token",
        "key-and-client",
        "token-and-default",
        "no-secret",
        "no-tenant",
        "provider",
        "bad-tenant",
    ],
)
def test_an_entry_needs_exactly_one_way_to_sign_in(tmp_path, sign_in, says):
    message = config_error(tmp_path, **sign_in)
    assert says in message
    assert "very" not in message and "managed" not in message


def test_each_way_alone_loads_with_litellm_key_names(tmp_path, monkeypatch):
    monkeypatch.setenv("AZURE_AD_TOKEN", "eyJ-from-env")
    ways = [
        {"api_key": "k"},
        {"azure_ad_token": "os.environ/AZURE_AD_TOKEN"},
        {"tenant_id": "t", "client_id": "c", "client_secret": "s"},
        {"azure_ad_token_provider": "default"},
    ]
    entries = [{**entry(**way), "name": f"azure-{n}"} for n, way in enumerate(ways)]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump({"finetune_settings": entries}), encoding="utf-8")
    loaded = load_config(path)
    assert [e["name"] for e in loaded["finetune_settings"]] == [
        "azure-0",
        "azure-1",
        "azure-2",
        "azure-3",
    ]
    assert loaded["finetune_settings"][1]["azure_ad_token"] == "eyJ-from-env"
