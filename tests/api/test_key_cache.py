"""API keys are cached in process for a few seconds; a revocation applies at
once in the process that made it, and within ``KEY_CACHE_SECONDS`` in any
other (played here by a write that sends no signal, as another process's
write would)."""

from __future__ import annotations

import pytest

from ftproxy.models import ApiKey
from ftproxy.services.ledger import keys

pytestmark = pytest.mark.django_db


class Clock:
    """Stands in for ``time`` in the keys module."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch) -> Clock:
    fake = Clock()
    monkeypatch.setattr(keys, "time", fake)
    return fake


def test_a_cached_key_authenticates_without_a_query(sandbox, api_as, django_assert_max_num_queries):
    _, raw = ApiKey.create_key("alice")
    api = api_as(raw)
    assert api.get("/v1/files").status_code == 200
    with django_assert_max_num_queries(10) as queries:
        assert api.get("/v1/files").status_code == 200
    assert not [q for q in queries.captured_queries if "ftproxy_apikey" in q["sql"]]


def test_revoking_in_this_process_applies_at_once(sandbox, api_as):
    key, raw = ApiKey.create_key("alice")
    assert api_as(raw).get("/v1/files").status_code == 200  # now cached
    key.revoke()
    response = api_as(raw).get("/v1/files")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_a_deleted_key_is_forgotten_at_once(sandbox, api_as):
    key, raw = ApiKey.create_key("alice")
    assert api_as(raw).get("/v1/files").status_code == 200
    ApiKey.objects.filter(pk=key.pk).delete()  # sends post_delete
    assert api_as(raw).get("/v1/files").status_code == 401


def test_a_revocation_elsewhere_applies_within_the_cache_window(sandbox, api_as, clock):
    key, raw = ApiKey.create_key("alice")
    api = api_as(raw)
    assert api.get("/v1/files").status_code == 200
    ApiKey.objects.filter(pk=key.pk).update(revoked=True)  # no signal: another process

    clock.now += keys.KEY_CACHE_SECONDS - 0.5
    assert api.get("/v1/files").status_code == 200  # still inside the window

    clock.now += 1.0
    response = api.get("/v1/files")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


def test_unknown_and_revoked_keys_are_not_cached(sandbox, api_as, clock):
    key, raw = ApiKey.create_key("alice")
    ApiKey.objects.filter(pk=key.pk).update(revoked=True)
    assert api_as(raw).get("/v1/files").status_code == 401
    assert api_as("sk-nobody").get("/v1/files").status_code == 401
    assert len(keys.cache) == 0


def test_the_cache_stays_bounded(sandbox, api_as, monkeypatch, clock):
    monkeypatch.setattr(keys.cache, "capacity", 2)
    raws = [ApiKey.create_key(f"k{i}")[1] for i in range(3)]
    for raw in raws:
        assert api_as(raw).get("/v1/files").status_code == 200
    assert len(keys.cache) <= 2


def test_forgetting_a_key_while_other_threads_change_the_cache_never_raises():
    """``forget_id`` walks the entries while request threads drop or add
    theirs: every change is made under the cache's lock, so the walk never
    meets a dict that changed size under it."""
    import sys
    import threading

    from ftproxy.models import ApiKey
    from ftproxy.services.ledger.keys import KeyCache

    cache = KeyCache(capacity=100_000)
    keys = [ApiKey(pk=n) for n in range(2_000)]
    for n, key in enumerate(keys):
        cache.entries[f"h{n}"] = (float("inf"), key)
    errors: list[BaseException] = []
    stop = threading.Event()

    def churn() -> None:
        n = 0
        while not stop.is_set():
            cache.forget(f"h{n % 2_000}")
            with cache.lock:
                cache.entries[f"h{n % 2_000}"] = (float("inf"), keys[n % 2_000])
            n += 1

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as possible
    thread = threading.Thread(target=churn)
    thread.start()
    try:
        for n in range(300):
            try:
                cache.forget_id(10_000 + n)  # walks every entry, drops none
            except RuntimeError as exc:
                errors.append(exc)
                break
    finally:
        stop.set()
        thread.join()
        sys.setswitchinterval(interval)
    assert errors == []
