"""How the gateway is served: the one command line `make run` and
`make bench` both use, so a benchmark always measures the real serving
stack. Run as ``python -m gateway_site.serve --bind HOST:PORT --workers N``.

gunicorn's threaded workers (``gthread``) run Django's WSGI handler, in
gunicorn's documented configuration. A thread serves one request at a
time, from its first byte to its last: a client that sends slowly holds a
thread. In production put nginx in front (``deploy/nginx.conf``): it reads
every request whole (headers and body, with its own timeouts and size
limit) before it passes it on, so slow clients never reach gunicorn.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

#: Threads per worker process: how many requests one process works on at once.
THREADS = int(os.environ.get("FTPROXY_THREADS", 8))


def command(bind: str, workers: int, threads: int = THREADS) -> list[str]:
    """The argv that serves the gateway on ``bind`` with ``workers``
    processes of ``threads`` threads each."""
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "gateway_site.wsgi:application",
        # Its hooks: the liveness listener of FTPROXY_HEALTH_BIND.
        "--config",
        "python:gateway_site.gunicorn_hooks",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--worker-class",
        "gthread",
        "--threads",
        str(threads),
        # A worker that does not report for this long is restarted: longer
        # than the longest request (a big upload forwarded upstream).
        "--timeout",
        "660",
        "--graceful-timeout",
        "30",
        "--keep-alive",
        "5",
        # Each request already logs one line of its own (ftproxy.requests),
        # with its request id, key, action and upstream status.
        "--error-logfile",
        "-",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:4000")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=THREADS)
    args = parser.parse_args(argv)
    _refuse_without_master_key()
    argv = command(args.bind, args.workers, args.threads)
    os.execv(argv[0], argv)


def _refuse_without_master_key() -> None:
    """Stop before any worker starts when the config asks for a master key
    that is not set (each worker would stop on it too, one by one)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway_site.settings")
    from django.conf import settings
    from django.core.exceptions import ImproperlyConfigured

    from ftproxy.config import require_master_key

    try:
        require_master_key(settings.FTPROXY)
    except ImproperlyConfigured as exc:
        sys.exit(f"ftproxy: {exc}")


if __name__ == "__main__":
    main()
