"""One webhook POST with a total deadline, and the pool that sends a
round's webhooks beside each other. No database here: ``webhooks`` claims
the events, builds the requests and records the outcomes.

A receiver gets ``deadline`` seconds in all for one attempt: connecting,
sending, the status line and headers, and the first ``MAX_ERROR_LENGTH``
bytes of a failing answer's body. The per-read timeout alone never bounds
that (a receiver that trickles a byte every few seconds never trips it), so
every socket a delivery opens is registered with its ``Deadline``, and a
timer shuts those sockets down when the deadline passes: the read waiting
on one of them returns at once and the attempt fails as a timeout.

A round's deliveries go to a few threads (``DELIVERY_WORKERS``), one task
per key: a key's events go out in order, one at a time, and a key whose
receiver cannot be reached or times out gets no more attempts in that
round. A round with a time budget (the sync's) starts no attempt after the
budget is spent; the events left wait for the next round.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

#: Threads sending one round's webhooks, each to one key's receiver at a time.
DELIVERY_WORKERS = 4

_current = threading.local()


class Deadline:
    """A total time limit for one attempt: the sockets opened under it (in
    this thread, while it is entered) are shut down once it has passed."""

    def __init__(self, seconds: float):
        self.seconds = seconds
        self.expired = False
        self.ends = time.monotonic() + seconds
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(seconds, self._expire)
        self._timer.daemon = True

    def __enter__(self) -> Deadline:
        _current.deadline = self
        self._timer.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._timer.cancel()
        _current.deadline = None

    def remaining(self) -> float:
        return max(0.0, self.ends - time.monotonic())

    def watch(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if not self.expired:
                return
        _shut(sock)

    def _expire(self) -> None:
        with self._lock:
            self.expired = True
            sockets = list(self._sockets)
        for sock in sockets:
            _shut(sock)


def _shut(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # closed already
        pass


class _Watched:
    """A urllib3 connection whose socket the thread's ``Deadline`` watches."""

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        deadline = getattr(_current, "deadline", None)
        if deadline is not None and self.sock is not None:  # type: ignore[attr-defined]
            deadline.watch(self.sock)  # type: ignore[attr-defined]


class _WatchedHTTPConnection(_Watched, HTTPConnection):
    pass


class _WatchedHTTPSConnection(_Watched, HTTPSConnection):
    pass


class _WatchedHTTPPool(HTTPConnectionPool):
    ConnectionCls = _WatchedHTTPConnection


class _WatchedHTTPSPool(HTTPSConnectionPool):
    ConnectionCls = _WatchedHTTPSConnection


WATCHED_POOLS = {"http": _WatchedHTTPPool, "https": _WatchedHTTPSPool}


class DeadlineAdapter(HTTPAdapter):
    """requests' adapter, its connections watched by the thread's ``Deadline``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = WATCHED_POOLS

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = WATCHED_POOLS
        return manager


@dataclass
class Sent:
    """What one POST came to."""

    status_code: int | None = None
    error: str = ""
    seconds: float = 0.0
    #: Not connected, or no complete answer in time: the key's other
    #: events wait for the next round.
    unreachable: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


def post(url: str, body: bytes, headers: dict[str, str], *, deadline: float, cap: int) -> Sent:
    """POST ``body`` to ``url`` within ``deadline`` seconds in all; a
    non-2xx answer's first ``cap`` bytes go into the error."""
    sent = Sent()
    started = time.monotonic()
    with Deadline(deadline) as limit, requests.Session() as session:
        adapter = DeadlineAdapter(max_retries=0)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        try:
            with session.post(
                url,
                data=body,
                headers=headers,
                timeout=deadline,
                allow_redirects=False,
                stream=True,
            ) as response:
                sent.status_code = response.status_code
                if not sent.succeeded:
                    try:
                        text = response.raw.read(cap, decode_content=True)
                    except Exception:  # the answer broke off: its status is what counts
                        text = b""
                    sent.error = f"HTTP {response.status_code}: " + text.decode("utf-8", "replace")
        except requests.RequestException as exc:
            sent.error = f"{type(exc).__name__}: {exc}"
            sent.unreachable = isinstance(exc, requests.ConnectionError | requests.Timeout)
        if limit.expired:
            sent.status_code = None
            sent.unreachable = True
            sent.error = f"no complete answer within {deadline:g} s (the delivery's deadline)"
    sent.seconds = time.monotonic() - started
    if sent.succeeded and sent.seconds > deadline:
        sent.status_code, sent.unreachable = None, True
        sent.error = f"answered after {sent.seconds:.1f} s (more than {deadline:g} s)"
    return sent


def send_in_order(
    items: list[Any], send: Callable[[Any], Sent], stop_at: float | None
) -> tuple[list[tuple[Any, Sent]], list[Any]]:
    """Send one key's ``items`` in order (in a pool thread); stop at the
    first that finds the receiver unreachable, or once ``stop_at`` (a
    ``time.monotonic``) has passed. Returns what was sent, with its
    outcome, and what was not."""
    done: list[tuple[Any, Sent]] = []
    for index, item in enumerate(items):
        if stop_at is not None and time.monotonic() >= stop_at:
            return done, items[index:]
        sent = send(item)
        done.append((item, sent))
        if sent.unreachable:
            return done, items[index + 1 :]
    return done, []
