"""How the gateway is served: the one command line `make run` and
`make bench` both use, so a benchmark always measures the real serving
stack. Run as ``python -m gateway_site.serve --bind HOST:PORT --workers N``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path


def command(bind: str, workers: int) -> list[str]:
    """The argv that serves the gateway on ``bind`` with ``workers`` processes:
    uvicorn, which reads every request (headers and body) on its event loop
    before one of the process's request threads runs Django for it, so a
    slow client never holds a thread (``gateway_site.serving``).

    ``FTPROXY_SERVER=gthread`` serves with gunicorn's thread workers over
    WSGI instead: about as fast, but a slow client holds a thread (put a
    buffering proxy in front)."""
    if os.environ.get("FTPROXY_SERVER") == "gthread":
        return _gthread(bind, workers)
    host, _, port = bind.rpartition(":")
    return [
        str(Path(sys.executable).with_name("uvicorn")),
        "gateway_site.asgi:application",
        "--host",
        host or "127.0.0.1",
        "--port",
        port,
        "--workers",
        str(workers),
        "--http",
        "gateway_site.serving:GatewayHttpProtocol",
        "--timeout-keep-alive",
        "5",
        "--lifespan",
        "off",
        # Each request already logs one line of its own (ftproxy.requests),
        # with its request id, key, action and upstream status.
        "--no-access-log",
    ]


def _gthread(bind: str, workers: int) -> list[str]:
    return [
        str(Path(sys.executable).with_name("gunicorn")),
        "gateway_site.wsgi:application",
        "--bind",
        bind,
        "--workers",
        str(workers),
        "--threads",
        "4",
        "--timeout",
        "660",
        "--access-logfile",
        "-",
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--bind", default="127.0.0.1:4000")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args(argv)
    _refuse_without_master_key()
    argv = command(args.bind, args.workers)
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
