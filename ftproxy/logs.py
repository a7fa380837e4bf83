"""Logging pieces: real 500s get one traceback each, with the request id.

Wire them in ``LOGGING`` (the gateway site does)::

    "filters": {"unhandled": {"()": "ftproxy.logs.UnhandledExceptions"}},
    "handlers": {"errors": {"class": "logging.StreamHandler", "filters": ["unhandled"]}},
    "loggers": {"django.request": {"handlers": ["errors"], "level": "ERROR"}},

Django's ``django.request`` logger reports every 4xx/5xx answer; the API's
own errors (a 400, a database-down 503) are already in the request line of
``ftproxy.requests``, so only records that carry an exception, i.e. an
unhandled one, pass.
"""

from __future__ import annotations

import logging


class UnhandledExceptions(logging.Filter):
    """Pass only records with a traceback, naming the request id."""

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.exc_info:
            return False
        request = getattr(record, "request", None)
        request_id = getattr(request, "ftproxy_request_id", None)
        if request_id and not getattr(record, "ftproxy_request_id", None):
            record.ftproxy_request_id = request_id
            record.msg = f"{record.msg} (request_id={request_id})"
        return True
