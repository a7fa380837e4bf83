"""The shared HTTP layer over real local sockets: retries, Retry-After,
timeouts and unreachable upstreams, as urllib3 really runs them (under
``responses`` none of that runs: it replaces the transport adapter)."""

from __future__ import annotations

import json
import time

import pytest
import requests
import responses

from ftproxy.errors import (
    ProviderFailure,
    ProviderInputError,
    ProviderRateLimited,
    ProviderTimeout,
    ProviderUnavailable,
)
from ftproxy.providers.data import JobCreate
from ftproxy.providers.http import (
    RETRY_AFTER_CAP_SECONDS,
    HttpClient,
    build_retry,
    error_fields,
)
from ftproxy.providers.openai import OpenAIProvider

JOB = {
    "id": "ftjob-1",
    "object": "fine_tuning.job",
    "model": "m",
    "status": "running",
    "created_at": 1,
}


def openai_at(url: str, **entry):
    return OpenAIProvider(
        {"custom_llm_provider": "openai", "api_key": "sk-test", "api_base": url, **entry}
    )


class TestRetries:
    def test_get_is_retried_after_the_connection_drops(self, scripted_server):
        scripted_server.script = [("drop",), ("json", 200, JOB, {})]
        job = openai_at(scripted_server.url, max_retries=2).retrieve_job("ftjob-1")
        assert job.status == "running"
        assert [r["method"] for r in scripted_server.requests] == ["GET", "GET"]

    def test_post_is_not_replayed_after_the_connection_drops(self, scripted_server):
        scripted_server.script = [("drop",), ("json", 200, JOB, {})]
        provider = openai_at(scripted_server.url, max_retries=2)
        with pytest.raises(ProviderFailure) as info:
            provider.create_job(JobCreate(model="m", training_file="file-1"))
        assert info.value.status_code == 502
        assert "closed the connection" in info.value.message
        assert len(scripted_server.requests) == 1

    def test_get_is_retried_after_a_503_and_honours_retry_after(self, scripted_server):
        scripted_server.script = [
            ("json", 503, {"error": {"message": "busy"}}, {"Retry-After": "1"}),
            ("json", 200, JOB, {}),
        ]
        started = time.monotonic()
        job = openai_at(scripted_server.url, max_retries=2).retrieve_job("ftjob-1")
        waited = time.monotonic() - started
        assert job.remote_id == "ftjob-1"
        assert len(scripted_server.requests) == 2
        assert 1.0 <= waited < 2.5  # the upstream's second, no more

    def test_retry_after_beyond_the_cap_is_passed_on_at_once(self, scripted_server):
        wait = int(RETRY_AFTER_CAP_SECONDS * 100)
        scripted_server.script = [
            ("json", 429, {"error": {"message": "slow down"}}, {"Retry-After": str(wait)}),
        ]
        started = time.monotonic()
        with pytest.raises(ProviderRateLimited) as info:
            openai_at(scripted_server.url, max_retries=2).retrieve_job("ftjob-1")
        assert time.monotonic() - started < 1
        assert (info.value.status_code, info.value.retry_after) == (429, str(wait))
        assert info.value.message == "slow down"
        assert len(scripted_server.requests) == 1

    def test_unparsable_retry_after_falls_back_to_backoff(self, scripted_server):
        scripted_server.script = [
            ("json", 503, {"error": {"message": "busy"}}, {"Retry-After": "soon-ish"}),
            ("json", 200, JOB, {}),
        ]
        assert openai_at(scripted_server.url).retrieve_job("ftjob-1").remote_id == "ftjob-1"

    def test_429_on_get_after_the_retries_keeps_retry_after(self, scripted_server):
        answer = ("json", 429, {"error": {"message": "rate"}}, {"Retry-After": "0"})
        scripted_server.script = [answer, answer]
        with pytest.raises(ProviderRateLimited) as info:
            openai_at(scripted_server.url, max_retries=1).retrieve_job("ftjob-1")
        assert info.value.retry_after == "0"
        assert len(scripted_server.requests) == 2

    def test_5xx_after_the_retries_is_a_502(self, scripted_server):
        answer = ("json", 502, {"error": {"message": "bad gateway"}}, {})
        scripted_server.script = [answer, answer]
        with pytest.raises(ProviderFailure) as info:
            openai_at(scripted_server.url, max_retries=1).retrieve_file("file-1")
        assert (info.value.status_code, info.value.upstream_status) == (502, 502)
        assert len(scripted_server.requests) == 2

    def test_delete_is_retried_but_post_is_not_after_a_500(self, scripted_server):
        answer = ("json", 500, {"error": {"message": "boom"}}, {})
        scripted_server.script = [answer, ("json", 200, {"deleted": True}, {})]
        openai_at(scripted_server.url, max_retries=1).delete_file("file-1")
        assert len(scripted_server.requests) == 2

        scripted_server.requests.clear()
        scripted_server.script = [answer, ("json", 200, JOB, {})]
        with pytest.raises(ProviderFailure):
            openai_at(scripted_server.url, max_retries=1).cancel_job("ftjob-1")
        assert len(scripted_server.requests) == 1

    def test_retry_policy_replays_only_idempotent_methods(self):
        retry = build_retry(2)
        assert retry.is_retry("GET", 503) and retry.is_retry("DELETE", 429)
        assert not retry.is_retry("POST", 503)
        assert not retry.is_retry("GET", 400)


class TestUnreachableAndSlow:
    def test_read_timeout_is_a_504(self, silent_server_url):
        provider = openai_at(silent_server_url, timeout=0.2, max_retries=0)
        started = time.monotonic()
        with pytest.raises(ProviderTimeout) as info:
            provider.retrieve_job("ftjob-1")
        assert time.monotonic() - started < 2
        assert info.value.status_code == 504
        assert "0.2 seconds" in info.value.message

    def test_read_timeout_after_retries_is_still_a_504(self, silent_server_url):
        # requests reports this case as a ConnectionError wrapping urllib3's
        # MaxRetryError(ReadTimeoutError); it must not read as "unreachable".
        provider = openai_at(silent_server_url, timeout=0.2, max_retries=1)
        with pytest.raises(ProviderTimeout) as info:
            provider.retrieve_job("ftjob-1")
        assert info.value.status_code == 504

    def test_read_timeout_on_post_is_a_504(self, silent_server_url):
        provider = openai_at(silent_server_url, timeout=0.2, max_retries=2)
        with pytest.raises(ProviderTimeout):
            provider.create_job(JobCreate(model="m", training_file="file-1"))

    def test_connection_refused_is_a_503(self, closed_port_url):
        provider = openai_at(closed_port_url, max_retries=1)
        with pytest.raises(ProviderUnavailable) as info:
            provider.retrieve_job("ftjob-1")
        err = info.value
        assert err.status_code == 503
        assert "could not be reached" in err.message
        assert isinstance(err.__cause__, requests.exceptions.ConnectionError)

    def test_connection_refused_on_post_is_a_503(self, closed_port_url):
        with pytest.raises(ProviderUnavailable):
            openai_at(closed_port_url, max_retries=1).create_job(
                JobCreate(model="m", training_file="file-1")
            )

    def test_unresolvable_host_is_a_503(self):
        provider = openai_at("http://no-such-host.invalid", max_retries=0)
        with pytest.raises(ProviderUnavailable):
            provider.retrieve_file("file-1")


class TestErrorBodies:
    def test_openai_error_shape(self):
        body = {
            "error": {
                "message": "m",
                "type": "invalid_request_error",
                "param": "model",
                "code": "bad",
            }
        }
        assert error_fields(body) == {
            "message": "m",
            "code": "bad",
            "param": "model",
            "type": "invalid_request_error",
        }

    def test_azure_dated_error_shape_uses_target_as_param(self):
        body = {
            "error": {
                "code": "invalidPayload",
                "message": "m",
                "target": "training_file",
                "details": [],
                "innererror": {"code": "x"},
            }
        }
        assert error_fields(body) == {
            "message": "m",
            "code": "invalidPayload",
            "param": "training_file",
            "type": None,
        }

    def test_azure_v1_error_type_error_is_not_a_type(self):
        body = {"error": {"code": "404", "message": "m", "param": None, "type": "error"}}
        assert error_fields(body)["type"] is None

    def test_google_status_shape(self):
        body = {"error": {"code": 400, "message": "m", "status": "INVALID_ARGUMENT"}}
        assert error_fields(body)["code"] == "INVALID_ARGUMENT"

    def test_non_json_error_body_becomes_the_message(self):
        client = HttpClient("up", "https://up.test", max_retries=0)
        assert client.url("/files") == "https://up.test/files"
        with responses.RequestsMock() as rsps:
            rsps.add("GET", "https://up.test/files", body="plain text complaint", status=400)
            with pytest.raises(ProviderInputError) as info:
                client.request("GET", "files")
        assert info.value.message == "plain text complaint"


def test_upstream_409_becomes_400_so_the_sdk_does_not_retry_it():
    import responses as responses_lib

    from ftproxy.errors import ProviderInputError
    from ftproxy.providers.http import HttpClient

    client = HttpClient("azure", "https://upstream.test")
    with responses_lib.RequestsMock() as rsps:
        rsps.post(
            "https://upstream.test/jobs/x/cancel",
            status=409,
            json={"error": {"code": "unexpectedEntityState", "message": "Job already done."}},
        )
        with pytest.raises(ProviderInputError) as caught:
            client.request("POST", "jobs/x/cancel")
    assert caught.value.status_code == 400
    assert caught.value.upstream_status == 409
    assert caught.value.code == "unexpectedEntityState"
    assert "already done" in caught.value.message


def test_credential_errors_never_quote_the_gateways_key():
    import responses as responses_lib

    from ftproxy.errors import ProviderAuthError
    from ftproxy.providers.http import HttpClient

    client = HttpClient("openai", "https://upstream.test")
    with responses_lib.RequestsMock() as rsps:
        rsps.get(
            "https://upstream.test/files",
            status=401,
            json={"error": {"message": "Incorrect API key provided: sk-proj-****wxyz."}},
        )
        with pytest.raises(ProviderAuthError) as caught:
            client.request("GET", "files")
    assert "wxyz" not in caught.value.message
    assert "rejected the gateway's credentials" in caught.value.message
    assert caught.value.body is None


@pytest.mark.parametrize("status", [401, 400, 500])
def test_upstream_texts_never_carry_the_credential_the_gateway_sent(status):
    import responses as responses_lib

    from ftproxy.errors import ProviderError
    from ftproxy.providers.http import HttpClient

    key = "0123456789abcdef0123456789abcdef"  # Azure-style: no recognisable prefix
    client = HttpClient("azure", "https://upstream.test", headers={"api-key": key}, max_retries=0)
    with responses_lib.RequestsMock() as rsps:
        rsps.get(
            "https://upstream.test/files",
            status=status,
            json={"error": {"code": "x", "message": f"Access denied for key {key}."}},
        )
        with pytest.raises(ProviderError) as caught:
            client.request("GET", "files")
    assert key not in caught.value.message
    assert "[redacted]" in caught.value.message
    assert key not in json.dumps(caught.value.body)


def test_a_redirect_is_not_followed_with_the_credentials():
    import responses as responses_lib

    from ftproxy.errors import ProviderFailure
    from ftproxy.providers.http import HttpClient

    client = HttpClient("azure", "https://upstream.test", headers={"api-key": "k" * 32})
    with responses_lib.RequestsMock() as rsps:
        rsps.get(
            "https://upstream.test/files",
            status=302,
            headers={"Location": "https://elsewhere.test/files"},
        )
        with pytest.raises(ProviderFailure):
            client.json("GET", "files")
        assert [call.request.url for call in rsps.calls] == ["https://upstream.test/files"]


@pytest.mark.parametrize(
    "message",
    ["metadata must be key-value pairs", "Invalid key_name", "model pk-small not found"],
)
def test_redaction_leaves_ordinary_words_alone(message):
    from ftproxy.providers.http import redact

    assert redact(message) == message


def test_a_json_body_goes_out_with_the_sessions_headers_params_and_any_integer():
    import responses as responses_lib

    client = HttpClient(
        "azure",
        "https://upstream.test",
        headers={"api-key": "k" * 32, "Accept": "application/json"},
        params={"api-version": "2025-04-01-preview"},
    )
    with responses_lib.RequestsMock() as rsps:
        rsps.post("https://upstream.test/jobs", json={"id": "j"})
        client.json("POST", "jobs", json_body={"seed": 2**70, "name": "é"}, headers={"X-One": "1"})
        client.json("POST", "jobs", json_body={"seed": 1})
        first, second = (call.request for call in rsps.calls)
    assert first.url == "https://upstream.test/jobs?api-version=2025-04-01-preview"
    assert first.headers["api-key"] == "k" * 32 and first.headers["X-One"] == "1"
    assert first.headers["Content-Type"] == "application/json"
    assert json.loads(first.body) == {"seed": 2**70, "name": "é"}  # past 64 bits: still sent
    assert json.loads(second.body) == {"seed": 1} and "X-One" not in second.headers
