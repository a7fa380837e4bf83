"""Vertex AI credentials: google-auth runs for real against a local token
endpoint, tokens are cached per entry, and the entry's options are checked."""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import responses
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from ftproxy.config import load_config
from ftproxy.errors import ConfigError, ProviderAuthError
from ftproxy.providers.vertex import VertexProvider

from .helpers import (
    CLIENT_EMAIL,
    JOB_NAME,
    JOB_URL,
    entry,
    mock_token,
    private_key,
    service_account_info,
    tuning_job,
)

#: google-auth always addresses the assertion to Google's token endpoint,
#: wherever token_uri sends it.
GOOGLE_AUDIENCE = "https://oauth2.googleapis.com/token"


def b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


class TokenEndpoint(ThreadingHTTPServer):
    """A token endpoint that checks the JWT bearer grant as Google's does:
    RS256 signature by the service account's key, issuer, audience, scope."""

    token = "ya29.local-endpoint-token"

    def __init__(self):
        super().__init__(("127.0.0.1", 0), TokenHandler)
        self.hits = 0
        self.rejections: list[str] = []

    @property
    def uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/token"

    def check(self, form: dict[str, list[str]]) -> str | None:
        if form.get("grant_type") != ["urn:ietf:params:oauth:grant-type:jwt-bearer"]:
            return "wrong grant_type"
        header, payload, signature = form["assertion"][0].split(".")
        if json.loads(b64decode(header)).get("alg") != "RS256":
            return "not RS256"
        try:
            private_key().public_key().verify(
                b64decode(signature),
                f"{header}.{payload}".encode(),
                padding.PKCS1v15(),
                hashes.SHA256(),
            )
        except InvalidSignature:
            return "bad signature"
        claims = json.loads(b64decode(payload))
        if claims.get("iss") != CLIENT_EMAIL or claims.get("aud") != GOOGLE_AUDIENCE:
            return "wrong issuer or audience"
        if "https://www.googleapis.com/auth/cloud-platform" not in claims.get("scope", ""):
            return "missing cloud-platform scope"
        if not claims["iat"] <= time.time() + 5 < claims["exp"]:
            return "expired"
        return None


class TokenHandler(BaseHTTPRequestHandler):
    def do_POST(self):  # noqa: N802 - http.server API
        server: TokenEndpoint = self.server  # type: ignore[assignment]
        server.hits += 1
        length = int(self.headers.get("Content-Length") or 0)
        form = urllib.parse.parse_qs(self.rfile.read(length).decode())
        problem = server.check(form)
        if problem:
            server.rejections.append(problem)
            status, body = 400, {"error": "invalid_grant", "error_description": problem}
        else:
            status, body = 200, {"access_token": server.token, "expires_in": 3600}
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def token_endpoint():
    server = TokenEndpoint()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def test_google_auth_fetches_one_token_from_the_keys_token_uri_and_reuses_it(token_endpoint):
    credentials = json.dumps(service_account_info(token_uri=token_endpoint.uri))
    vertex = VertexProvider(entry(vertex_credentials=credentials))
    with responses.RequestsMock() as rsps:
        rsps.add_passthru(token_endpoint.uri)
        rsps.add(responses.GET, JOB_URL, json=tuning_job())
        rsps.add(responses.GET, JOB_URL, json=tuning_job("JOB_STATE_SUCCEEDED"))
        assert vertex.retrieve_job(JOB_NAME).status == "running"
        assert vertex.retrieve_job(JOB_NAME).status == "succeeded"
        vertex_calls = [c for c in rsps.calls if c.request.url == JOB_URL]
    assert token_endpoint.rejections == []
    assert token_endpoint.hits == 1
    assert [c.request.headers["Authorization"] for c in vertex_calls] == [
        f"Bearer {TokenEndpoint.token}"
    ] * 2


def test_a_refused_token_is_a_502_about_the_gateways_credentials(token_endpoint):
    info = service_account_info(token_uri=token_endpoint.uri)
    info["client_email"] = "someone-else@example.iam.gserviceaccount.com"
    vertex = VertexProvider(entry(vertex_credentials=json.dumps(info)))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        rsps.add_passthru(token_endpoint.uri)
        rsps.add(responses.GET, JOB_URL, json=tuning_job())
        with pytest.raises(ProviderAuthError) as caught:
            vertex.retrieve_job(JOB_NAME)
    assert caught.value.status_code == 502
    assert "invalid_grant: wrong issuer or audience" in caught.value.message
    assert token_endpoint.rejections == ["wrong issuer or audience"]


def test_credentials_may_be_a_key_file_path(tmp_path):
    path = tmp_path / "sa.json"
    path.write_text(json.dumps(service_account_info()))
    vertex = VertexProvider(entry(vertex_credentials=str(path)))
    with responses.RequestsMock() as rsps:
        mock_token(rsps)
        rsps.add(responses.GET, JOB_URL, json=tuning_job())
        vertex.retrieve_job(JOB_NAME)


def test_without_credentials_application_default_credentials_are_used(tmp_path, monkeypatch):
    path = tmp_path / "adc.json"
    path.write_text(json.dumps(service_account_info()))
    monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(path))
    vertex = VertexProvider(entry(vertex_credentials=None))
    with responses.RequestsMock() as rsps:
        mock_token(rsps)
        rsps.add(responses.GET, JOB_URL, json=tuning_job())
        vertex.retrieve_job(JOB_NAME)
        assert rsps.calls[-1].request.headers["Authorization"].startswith("Bearer ")


# ---- the entry's options -------------------------------------------------


def load(tmp_path, section: str, vertex_entry: dict):
    config = {
        "general_settings": {},
        section: [{"custom_llm_provider": "vertex_ai", **vertex_entry}],
    }
    path = tmp_path / "config.yaml"
    path.write_text(json.dumps(config))  # JSON is YAML
    return load_config(path)


BASE = {"vertex_project": "p", "vertex_location": "us-central1"}


def test_files_entry_without_a_bucket_fails_at_startup_naming_the_key(tmp_path):
    with pytest.raises(ConfigError, match="gcs_bucket_name"):
        load(tmp_path, "files_settings", BASE)


def test_finetune_entry_needs_no_bucket(tmp_path):
    loaded = load(tmp_path, "finetune_settings", BASE)
    assert loaded["finetune_settings"][0]["vertex_project"] == "p"


@pytest.mark.parametrize(
    ("options", "key"),
    [
        ({"gcs_bucket_name": "Not_A_Bucket!"}, "gcs_bucket_name"),
        ({"vertex_location": "us central"}, "vertex_location"),
        ({"api_base": "aiplatform.googleapis.com"}, "api_base"),
        ({"vertex_credentials": "/nonexistent/sa.json"}, "vertex_credentials"),
        ({"vertex_credentials": '{"type": "service_account", '}, "vertex_credentials"),
        ({"vertex_credentials": '{"type": "external_account"}'}, "vertex_credentials"),
    ],
)
def test_invalid_option_values_fail_at_startup_naming_the_key(tmp_path, options, key):
    with pytest.raises(ConfigError, match=key):
        load(tmp_path, "files_settings", {**BASE, "gcs_bucket_name": "bucket/p", **options})


def test_config_errors_never_echo_the_key_material(tmp_path):
    secret = '{"type": "external_account", "private_key": "SECRET-MATERIAL"}'
    with pytest.raises(ConfigError) as caught:
        load(tmp_path, "finetune_settings", {**BASE, "vertex_credentials": secret})
    assert "SECRET-MATERIAL" not in str(caught.value)


def test_global_location_uses_the_global_host():
    vertex = VertexProvider(entry(vertex_location="global"))
    assert vertex.api_base == "https://aiplatform.googleapis.com"


def test_bucket_prefix_and_gs_scheme_are_understood():
    vertex = VertexProvider(entry(gcs_bucket_name="gs://data/a/b/"))
    assert (vertex.bucket, vertex.prefix) == ("data", "a/b")
