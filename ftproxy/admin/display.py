"""How the admin shows ledger values: local times with seconds and zone,
Unix epochs as dates (the epoch kept beside them), long values truncated
with the full text on hover, and links between related rows.

Times are shown in the site's current time zone (``TIME_ZONE``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import Model
from django.urls import NoReverseMatch, reverse
from django.utils import timezone
from django.utils.functional import lazy
from django.utils.html import format_html, format_html_join

EMPTY = "—"


def local_time_text(value: datetime | None) -> str:
    """``2026-12-01 21:48:33 UTC`` in the current time zone."""
    if value is None:
        return EMPTY
    return timezone.localtime(value).strftime("%Y-%m-%d %H:%M:%S %Z")


def local_time(value: datetime | None, *, zone: bool = True) -> str:
    """A ``<time>`` element with the local time (the zone left to the column
    header when ``zone`` is false); the full time with zone and UTC on hover."""
    if value is None:
        return EMPTY
    text = local_time_text(value)
    return format_html(
        '<time datetime="{}" title="{} · {}">{}</time>',
        value.isoformat(),
        text,
        value.astimezone(UTC).isoformat(timespec="seconds"),
        text if zone else text.rsplit(" ", 1)[0],
    )


def _with_zone(description: str) -> str:
    """A column header naming the current time zone: ``created (UTC)``."""
    return f"{description} ({timezone.get_current_timezone_name()})"


#: Column headers are built per request: the time zone may differ.
with_zone = lazy(_with_zone, str)


def from_epoch(seconds: int | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, tz=UTC)


def epoch_time(seconds: int | None, *, show_epoch: bool = True) -> str:
    """A Unix time as a local date, with the epoch itself as a secondary field."""
    if seconds is None:
        return EMPTY
    if not show_epoch:
        return local_time(from_epoch(seconds))
    return format_html(
        '{} <span class="ftp-secondary">{}</span>', local_time(from_epoch(seconds)), seconds
    )


def time_display(
    field: str,
    description: str | None = None,
    *,
    ordering: str | None = None,
    column: bool = False,
):
    """A read-only admin display of a DateTimeField as a local time. As a
    list ``column``, the zone goes to the header."""
    label = description or field.replace("_", " ")

    @admin.display(description=with_zone(label) if column else label, ordering=ordering or field)
    def display(self, row: Any) -> str:
        return local_time(getattr(row, field), zone=not column)

    return display


def epoch_display(field: str, description: str | None = None, *, show_epoch: bool = True):
    """A read-only admin display of a Unix-seconds field as a local time."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def display(self, row: Any) -> str:
        return epoch_time(getattr(row, field), show_epoch=show_epoch)

    return display


def truncated(value: Any, width: int = 24) -> str:
    """The value cut to ``width`` characters by CSS, the whole on hover."""
    if value in (None, ""):
        return EMPTY
    text = str(value)
    return format_html(
        '<span class="ftp-trunc" style="max-width: {}ch" title="{}">{}</span>', width, text, text
    )


def truncated_display(field: str, width: int, description: str | None = None):
    """A read-only admin column of ``field`` cut to ``width`` characters
    (the whole on hover), ordered by the field."""

    @admin.display(description=description or field.replace("_", " "), ordering=field)
    def display(self, row: Any) -> str:
        return truncated(getattr(row, field), width)

    return display


def admin_url(obj: Model, view: str = "change") -> str | None:
    opts = obj._meta
    try:
        return reverse(f"admin:{opts.app_label}_{opts.model_name}_{view}", args=[obj.pk])
    except NoReverseMatch:
        return None


def changelist_url(model: type[Model], **params: Any) -> str:
    opts = model._meta
    url = reverse(f"admin:{opts.app_label}_{opts.model_name}_changelist")
    return f"{url}?{urlencode(params)}" if params else url


def link(obj: Model | None, text: Any = None, *, width: int | None = None) -> str:
    """A link to ``obj``'s admin page (its text truncated to ``width``)."""
    if obj is None:
        return EMPTY
    label = truncated(text if text is not None else obj, width) if width else (text or str(obj))
    # (a width of None shows the whole text)
    url = admin_url(obj)
    return format_html('<a href="{}">{}</a>', url, label) if url else label


def links(objects: list[Model], *, width: int | None = None) -> str:
    if not objects:
        return EMPTY
    return format_html_join(", ", "{}", ((link(obj, width=width),) for obj in objects))


def related_display(
    relation: str, label: str, *, width: int | None = None, description: str | None = None
):
    """A read-only admin column (or detail field) linking to the row's
    ``relation``, shown by its ``label`` field (cut to ``width`` characters
    when given), ordered by that field."""

    @admin.display(description=description or relation, ordering=f"{relation}__{label}")
    def display(self, row: Any) -> str:
        related = getattr(row, relation)
        return link(related, getattr(related, label) if related else None, width=width)

    return display


def key_link(key: Model | None, *, width: int | None = 16) -> str:
    """An owner column: the key's name linking to its page; the master key
    when there is none."""
    if key is None:
        return format_html('<span class="ftp-secondary">{}</span>', "master key")
    return link(key, key.name, width=width)
