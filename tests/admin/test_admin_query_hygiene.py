"""A list page asked with a NUL in a filter, a search or a drill-down value
answers as Django answers a filter it cannot apply (back to the plain list,
``?e=1``), never a 500 (PostgreSQL refuses NUL in text)."""

from __future__ import annotations

import pytest
from django.apps import apps
from django.contrib import admin
from django.urls import reverse

from tests.admin.test_admin import make_job

pytestmark = pytest.mark.django_db

LIST_PAGES = [
    model._meta.model_name
    for model in apps.get_app_config("ftproxy").get_models()
    if admin.site.is_registered(model) and model._meta.model_name != "dashboard"
]


@pytest.mark.parametrize("query", ["status=%00", "q=%00", "status__exact=a%00b", "%00=1"])
@pytest.mark.parametrize("model", LIST_PAGES)
def test_a_nul_in_a_list_query_goes_back_to_the_plain_list(admin_client, model, query):
    page = reverse(f"admin:ftproxy_{model}_changelist")
    response = admin_client.get(f"{page}?{query}")
    assert response.status_code == 302
    assert response["Location"] == f"{page}?e=1"
    assert admin_client.get(response["Location"]).status_code == 200


def test_the_job_list_filtered_by_status_still_works(admin_client):
    make_job(status="running")
    page = reverse("admin:ftproxy_finetuningjob_changelist")
    response = admin_client.get(f"{page}?status=running")
    assert response.status_code == 200
    assert "ftjob-abc123" in response.content.decode()
