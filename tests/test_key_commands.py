"""``ftproxy_list_keys``, ``ftproxy_revoke_key`` and ``ftproxy_rotate_key``,
and the change trail the key commands leave (actor ``manage.py``)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from ftproxy.models import ApiKey, KeyChange
from ftproxy.services.ledger.keys import UnknownKey, caller_for

pytestmark = pytest.mark.django_db


def run(command: str, *args: str) -> list[str]:
    out = StringIO()
    call_command(command, *args, stdout=out)
    return out.getvalue().splitlines()


def test_list_shows_keys_without_secrets_and_revoked_ones_on_request():
    alice, alice_secret = ApiKey.create_key("alice", allowed_providers=["openai"])
    bob, bob_secret = ApiKey.create_key("bob")
    bob.revoke()
    lines = run("ftproxy_list_keys")
    assert any(alice.prefix in line and "providers openai" in line for line in lines)
    assert not any(bob.prefix in line for line in lines) and lines[-1] == "1 key(s)."
    everything = "\n".join(run("ftproxy_list_keys", "--all"))
    assert "revoked" in everything and bob.prefix in everything
    assert alice_secret not in everything and bob_secret not in everything


def test_revoke_by_name_is_recorded_with_the_command_as_actor():
    key, secret = ApiKey.create_key("alice")
    lines = run("ftproxy_revoke_key", "alice")
    assert "is revoked" in lines[0]
    with pytest.raises(UnknownKey):
        caller_for(secret)
    change = KeyChange.objects.get(key=key)
    assert (change.action, change.actor) == ("revoked", "manage.py")
    assert "already revoked" in run("ftproxy_revoke_key", f"key-{key.pk}")[0]
    for unknown in ("nobody", "key-\u00b2"):  # "²": a digit to str.isdigit, not to int
        with pytest.raises(CommandError, match="No key named"):
            run("ftproxy_revoke_key", unknown)


def test_rotate_prints_the_new_secret_last_and_keeps_the_old_for_the_grace_period():
    key, old = ApiKey.create_key("alice")
    lines = run("ftproxy_rotate_key", "alice", "--grace-hours", "2")
    new = lines[-1]
    assert new.startswith("sk-ftp-") and new != old and "works until" in lines[0]
    assert caller_for(new).key.pk == key.pk
    assert caller_for(old).key.pk == key.pk
    run("ftproxy_rotate_key", new[:15], "--grace-hours", "0")
    with pytest.raises(UnknownKey, match="rotated"):
        caller_for(new)
    assert KeyChange.objects.filter(key=key, action="rotated", actor="manage.py").count() == 2


@pytest.mark.parametrize("hours", ["-1", "169", "soon"])
def test_rotate_refuses_a_grace_period_out_of_range(hours):
    ApiKey.create_key("alice")
    with pytest.raises(CommandError):
        run("ftproxy_rotate_key", "alice", "--grace-hours", hours)


def test_create_and_update_leave_their_changes_in_the_trail():
    run("ftproxy_create_key", "--name", "carol", "--budget-usd", "5")
    run("ftproxy_update_key", "carol", "--budget-usd", "7.50", "--webhook-url", "https://h.test/x")
    run("ftproxy_update_key", "carol", "--rotate-secret")
    actions = list(KeyChange.objects.order_by("id").values_list("action", "actor", "changes"))
    assert actions[0][:2] == ("created", "manage.py")
    assert actions[1][2]["budget_usd"] == ["5.00", "7.50"]
    assert actions[1][2]["webhook_url"] == [None, "https://h.test/x"]
    assert actions[2][:2] == ("webhook secret rotated", "manage.py")
    assert "whsec_" not in str(actions)
