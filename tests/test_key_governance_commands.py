"""``ftproxy_create_key --budget-usd/--max-active-jobs`` and ``ftproxy_update_key``."""

from __future__ import annotations

from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ftproxy.models import ApiKey

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> list[str]:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().splitlines()


def test_create_key_sets_a_budget_and_a_job_quota():
    lines = run(
        "ftproxy_create_key", "--name", "alice", "--budget-usd", "25.50", "--max-active-jobs", "2"
    )

    key = ApiKey.objects.get(name="alice")
    assert (key.budget_usd, key.max_active_jobs) == (Decimal("25.50"), 2)
    assert "budget $25.50" in lines[0] and "at most 2 active job(s)" in lines[0]
    assert lines[-1].startswith("sk-ftp-")


def test_create_key_without_limits_has_none():
    run("ftproxy_create_key", "--name", "bob")

    key = ApiKey.objects.get(name="bob")
    assert (key.budget_usd, key.max_active_jobs, key.webhook_url) == (None, None, "")


@pytest.mark.parametrize(
    "args",
    [
        ("--budget-usd", "-1"),
        ("--budget-usd", "lots"),
        ("--budget-usd", "1.001"),
        ("--budget-usd", "nan"),
        ("--budget-usd", "1e400"),
        ("--max-active-jobs", "-1"),
        ("--max-active-jobs", "1.5"),
    ],
)
def test_create_key_refuses_bad_limits(args):
    with pytest.raises(CommandError, match=args[0].lstrip("-").replace("-", "_").split("_")[0]):
        run("ftproxy_create_key", "--name", "x", *args)
    assert not ApiKey.objects.exists()


def test_update_key_changes_and_removes_limits():
    key, _ = ApiKey.create_key("alice", budget_usd=Decimal("5"))

    lines = run("ftproxy_update_key", "alice", "--budget-usd", "100", "--max-active-jobs", "3")
    key.refresh_from_db()
    assert (key.budget_usd, key.max_active_jobs) == (Decimal("100"), 3)
    assert "budget $100.00, max active jobs 3" in lines[0]  # to the cent

    lines = run(
        "ftproxy_update_key", key.prefix, "--budget-usd", "none", "--max-active-jobs", "none"
    )
    key.refresh_from_db()
    assert (key.budget_usd, key.max_active_jobs) == (None, None)
    assert lines == [
        f"Updated API key 'alice' (prefix {key.prefix}): budget none, max active jobs none, "
        "webhook none."
    ]


def test_the_first_webhook_url_prints_a_new_secret_alone_on_the_last_line():
    key, _ = ApiKey.create_key("alice")

    lines = run("ftproxy_update_key", "alice", "--webhook-url", "https://hooks.test/a")

    key.refresh_from_db()
    assert key.webhook_url == "https://hooks.test/a"
    assert lines[-1] == key.webhook_secret and lines[-1].startswith("whsec_")
    assert "shown only this once" in lines[-2]
    assert key.webhook_secret not in "\n".join(lines[:-1])


def test_changing_the_url_keeps_the_secret_and_rotating_makes_a_new_one():
    key, _ = ApiKey.create_key("alice")
    first = run("ftproxy_update_key", "alice", "--webhook-url", "https://hooks.test/a")[-1]

    moved = run("ftproxy_update_key", "alice", "--webhook-url", "https://hooks.test/b")
    rotated = run("ftproxy_update_key", "alice", "--rotate-secret")[-1]

    key.refresh_from_db()
    assert not any(line.startswith("whsec_") for line in moved)
    assert rotated.startswith("whsec_") and rotated != first
    assert (key.webhook_url, key.webhook_secret) == ("https://hooks.test/b", rotated)


def test_webhook_url_none_removes_url_and_secret():
    key, _ = ApiKey.create_key("alice")
    run("ftproxy_update_key", "alice", "--webhook-url", "https://hooks.test/a")

    lines = run("ftproxy_update_key", "alice", "--webhook-url", "none")

    key.refresh_from_db()
    assert (key.webhook_url, key.webhook_secret) == ("", "")
    assert not lines[-1].startswith("whsec_")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("nobody", "--budget-usd", "1"), "No key named 'nobody'"),
        (("alice",), "Nothing to change"),
        (("alice", "--rotate-secret"), "no webhook URL"),
        (("alice", "--webhook-url", "ftp://x"), "not an http"),
        (("twin", "--budget-usd", "1"), "2 keys are named 'twin'"),
    ],
)
def test_update_key_errors_name_the_problem(args, message):
    ApiKey.create_key("alice")
    ApiKey.create_key("twin")
    ApiKey.create_key("twin")

    with pytest.raises(CommandError, match=message):
        run("ftproxy_update_key", *args)
    assert not ApiKey.objects.exclude(webhook_url="").exists()
