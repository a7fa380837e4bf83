"""The app's views set their own DRF policies: a host's REST_FRAMEWORK (here
as contrary as it gets) changes nothing they answer."""

from __future__ import annotations

import pytest
from django.test import override_settings

pytestmark = pytest.mark.django_db

HOSTILE = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["rest_framework.authentication.BasicAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAdminUser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.BrowsableAPIRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.FormParser"],
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.AnonRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"anon": "1/day"},
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 1,
    "DEFAULT_VERSIONING_CLASS": "rest_framework.versioning.QueryParameterVersioning",
    "EXCEPTION_HANDLER": "rest_framework.views.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "rest_framework.schemas.openapi.AutoSchema",
}


@override_settings(REST_FRAMEWORK=HOSTILE)
def test_the_gateway_answers_as_ever_under_a_hosts_contrary_settings(sandbox, master, client):
    job = master.post_json(
        "/v1/fine_tuning/jobs", {"model": "gpt-4o-mini", "training_file": "file-missing"}
    )
    assert job.status_code == 400 and job["Content-Type"] == "application/json"
    assert job.json()["error"]["param"] == "training_file"
    listed = master.get("/v1/files")
    assert listed.status_code == 200 and listed.json()["object"] == "list"

    anonymous = client.get("/v1/files")
    assert anonymous.status_code == 401
    assert anonymous.json()["error"]["code"] == "invalid_api_key"
    assert anonymous["WWW-Authenticate"] == 'Bearer realm="ftproxy"'

    schema = client.get("/openapi.json")
    assert schema.status_code == 200 and "/v1/fine_tuning/jobs" in schema.json()["paths"]
