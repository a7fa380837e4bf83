"""A big fine-tune file for a provider that streams uploads is sent while it
is validated. The ledger and the client see what they saw before: a bad
line anywhere is the same 400 naming it, with no row and nothing created
upstream (its request is cut short); a good file is recorded before its
last bytes leave, and arrives whole."""

from __future__ import annotations

import hashlib
import io
import json
import socket
import threading
import time

import pytest

from ftproxy.errors import InvalidRequest, ProviderError
from ftproxy.models import File, LedgerState
from ftproxy.providers.http import CONNECT_TIMEOUT_SECONDS
from ftproxy.services.files import service as file_service
from ftproxy.services.ledger.context import MASTER, UPSTREAM_CALLED, CallContext
from tests.files_upstream import files_upstream

LINE = (
    json.dumps(
        {
            "messages": [
                {"role": "user", "content": "question " * 30},
                {"role": "assistant", "content": "answer " * 30},
            ]
        }
    ).encode()
    + b"\n"
)
BIG = LINE * (2 * file_service.SEND_WHILE_SCANNING_BYTES // len(LINE))


class Reopenable(io.BytesIO):
    """A stream that can hand out a second reader of its bytes, as the
    spooled parts of the ASGI server's request bodies do."""

    def __init__(self, data: bytes):
        super().__init__(data)
        self.data = data
        self.reopened = 0

    def reopen(self) -> io.BytesIO:
        self.reopened += 1
        return io.BytesIO(self.data)


@pytest.fixture
def upstream(gateway_config):
    with files_upstream() as (base, received):
        entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": base}
        gateway_config({"files_settings": [entry], "finetune_settings": [dict(entry)]})
        yield received


def create(stream, ctx=None):
    return file_service.create_file(
        ctx or CallContext(MASTER),
        stream=stream,
        size=len(stream.data),
        filename="train.jsonl",
        purpose="fine-tune",
        content_type="application/jsonl",
        entry=None,
        expires_after=None,
    )


def threads_left() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("ftproxy-")]


@pytest.mark.django_db
def test_a_good_big_file_is_sent_while_scanned_and_arrives_whole(upstream):
    stream = Reopenable(BIG)
    row = create(stream)
    assert stream.reopened == 2  # a reader for the sending (and one for the hashing)
    assert upstream.created == [hashlib.sha256(BIG).hexdigest()]
    assert upstream.cut_short == 0
    row.refresh_from_db()
    assert row.ledger_state == LedgerState.OK
    assert (row.public_id, row.remote_id) == ("file-up1", "file-up1")
    assert row.sha256 == hashlib.sha256(BIG).hexdigest() and row.bytes == len(BIG)
    assert row.examples == BIG.count(b"\n")
    assert not threads_left()


@pytest.mark.django_db
def test_a_bad_line_deep_in_a_big_file_is_a_400_naming_it_and_nothing_is_left_upstream(upstream):
    lines = BIG.count(b"\n")
    bad = BIG + b'{"messages": [{"role": "user", "content": "no answer"}]}\n' + LINE
    ctx = CallContext(MASTER)
    with pytest.raises(InvalidRequest) as caught:
        create(Reopenable(bad), ctx)
    assert caught.value.message.startswith("Invalid fine-tuning file: ")
    assert f"line {lines + 1}: messages: needs at least one assistant message" in (
        caught.value.message
    )
    assert upstream.done.wait(10)
    assert upstream.created == [] and upstream.cut_short == 1
    assert not File.objects.exists()
    assert UPSTREAM_CALLED not in ctx.audit  # the create was never sent: the key is free
    assert not threads_left()


@pytest.mark.django_db
def test_a_bad_first_line_cuts_the_request_short_too(upstream):
    bad = b"not json\n" + BIG
    with pytest.raises(InvalidRequest, match="line 1: not valid JSON"):
        create(Reopenable(bad))
    upstream.done.wait(10)
    assert upstream.created == []
    assert not File.objects.exists()
    assert not threads_left()


@pytest.mark.django_db
def test_an_upstream_error_after_a_good_scan_settles_the_row_as_before(upstream):
    upstream.status = 500
    with pytest.raises(ProviderError):
        create(Reopenable(BIG))
    row = File.objects.get()
    assert row.ledger_state in (LedgerState.PENDING, LedgerState.FAILED)
    assert row.ledger_error
    assert not threads_left()


@pytest.mark.django_db
def test_a_ledger_that_cannot_record_the_file_cuts_the_request_short(upstream, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("database is gone")

    monkeypatch.setattr(File.objects, "create", broken)
    with pytest.raises(RuntimeError, match="database is gone"):
        create(Reopenable(BIG))
    assert upstream.done.wait(10)
    assert upstream.created == [] and upstream.cut_short == 1
    assert not threads_left()


@pytest.mark.django_db
def test_small_files_and_one_shot_streams_are_scanned_first_as_before(upstream):
    small = Reopenable(LINE * 10)
    create(small)
    assert small.reopened == 0
    plain = io.BytesIO(BIG)
    plain.data = BIG  # type: ignore[attr-defined]
    create(plain)
    assert len(upstream.created) == 2


@pytest.fixture
def stalled_upstream(gateway_config):
    """An upstream that takes a connection and never reads from it: once the
    socket's buffers are full, a send to it waits until its timeout."""
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # taken on by each accepted
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    listener.settimeout(0.2)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except TimeoutError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
    entry = {"custom_llm_provider": "openai", "api_key": "sk-up", "api_base": base}
    gateway_config({"files_settings": [entry], "finetune_settings": [entry]})
    yield accepted
    stop.set()
    thread.join(5)
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.mark.django_db
def test_a_bad_file_is_refused_without_waiting_for_an_upstream_that_stalls(stalled_upstream):
    bad = BIG * 2 + b'{"messages": [{"role": "user", "content": "no answer"}]}\n'
    started = time.monotonic()
    with pytest.raises(InvalidRequest, match="needs at least one assistant message"):
        create(Reopenable(bad))
    waited = time.monotonic() - started
    assert stalled_upstream, "the send had started"
    # The send is stuck until its socket times out (the connect timeout,
    # while the body goes); the refusal waits CUT_WAIT_SECONDS at most.
    assert waited < CONNECT_TIMEOUT_SECONDS
    assert not File.objects.exists()
