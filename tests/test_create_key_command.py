"""``manage.py ftproxy_create_key``: the key is printed once and works."""

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ftproxy.models import KEY_PREFIX, ApiKey, hash_key

pytestmark = pytest.mark.django_db


def create_key(name: str) -> list[str]:
    out = StringIO()
    call_command("ftproxy_create_key", name=name, stdout=out)
    return out.getvalue().splitlines()


def test_last_stdout_line_is_the_new_key_preceded_by_a_store_it_now_line():
    lines = create_key("ci runner")

    assert len(lines) >= 2
    assert lines[-1].startswith(KEY_PREFIX)
    assert lines[-1] not in "\n".join(lines[:-1])
    assert "shown only this once" in lines[-2]


def test_printed_key_authenticates_against_the_api(client):
    raw = create_key("ci runner")[-1]

    response = client.get("/v1/files", HTTP_AUTHORIZATION=f"Bearer {raw}")

    assert response.status_code == 200


def test_database_keeps_only_the_prefix_and_the_hash_of_the_key():
    raw = create_key("ci runner")[-1]

    key = ApiKey.objects.get()
    assert key.name == "ci runner"
    assert key.hashed_key == hash_key(raw)
    assert raw.startswith(key.prefix) and len(key.prefix) < len(raw)
    stored = [str(value) for value in ApiKey.objects.values_list().get()]
    assert not any(raw in value for value in stored)


@pytest.mark.parametrize("name", ["", "   "])
def test_empty_name_is_a_command_error_and_creates_nothing(name):
    with pytest.raises(CommandError, match="--name"):
        call_command("ftproxy_create_key", name=name, stdout=StringIO())

    assert not ApiKey.objects.exists()


def test_missing_name_is_a_command_error():
    with pytest.raises(CommandError):
        call_command("ftproxy_create_key", stdout=StringIO())
