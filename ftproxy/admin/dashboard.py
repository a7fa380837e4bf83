"""The admin's dashboard (``/admin/ftproxy/dashboard/``): jobs by status
and provider, spend per key and per model over the last 30 days with a
server-rendered SVG chart, the jobs that failed recently, and sync health.
Also the read-only list of sync rounds it links to.

A few aggregate queries per page, whatever the ledger's size (the daily
series reads one row per job of the period); the chart is plain SVG, no
script.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.contrib import admin
from django.db.models import Count, Sum
from django.http import HttpRequest
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..models import Dashboard, FineTuningJob, LedgerState, SyncRound
from ..services.jobs.sync_health import sync_health
from .display import (
    changelist_url,
    from_epoch,
    key_link,
    link,
    local_time,
    time_display,
    truncated,
)
from .history import duration_text
from .keys import format_usd
from .ledger import LedgerAdmin

#: Spend is summed over this many days, up to today.
SPEND_DAYS = 30
#: Failed jobs listed.
RECENT_FAILURES = 10
#: The order statuses are shown in; others follow alphabetically.
STATUS_ORDER = (
    "validating_files",
    "queued",
    "running",
    "paused",
    "succeeded",
    "failed",
    "cancelled",
)


@dataclass
class SpendRow:
    label: str
    link: str
    total: Decimal
    jobs: int
    share: float  # of the largest row, 0..1

    @property
    def total_text(self) -> str:
        return format_usd(self.total)

    @property
    def percent(self) -> str:
        return f"{self.share * 100:.1f}"


def jobs_by_status() -> dict:
    """A provider × status table of job counts, with links to the lists."""
    counts = (
        FineTuningJob.objects.filter(ledger_state=LedgerState.OK)
        .values("provider", "status")
        .annotate(n=Count("id"))
    )
    table: dict[str, dict[str, int]] = defaultdict(dict)
    seen = set()
    for row in counts:
        status = row["status"] or "unknown"
        table[row["provider"]][status] = row["n"]
        seen.add(status)
    statuses = [s for s in STATUS_ORDER if s in seen] + sorted(seen - set(STATUS_ORDER))
    rows = [
        {
            "provider": provider,
            "cells": [
                (
                    table[provider].get(status, 0),
                    changelist_url(FineTuningJob, provider__exact=provider, status__exact=status),
                )
                for status in statuses
            ],
            "total": sum(table[provider].values()),
            "link": changelist_url(FineTuningJob, provider__exact=provider),
        }
        for provider in sorted(table)
    ]
    return {"statuses": statuses, "rows": rows}


def _spend_rows(queryset, fields: tuple[str, ...], label_of, link_of) -> list[SpendRow]:
    """Spend grouped by ``fields``, largest first; ``label_of`` and
    ``link_of`` take a grouped row."""
    rows = list(
        queryset.values(*fields)
        .annotate(total=Sum("cost_usd"), jobs=Count("id"))
        .order_by("-total")
    )
    top = max((row["total"] for row in rows), default=Decimal(0)) or Decimal(1)
    return [
        SpendRow(
            label=label_of(row),
            link=link_of(row),
            total=row["total"],
            jobs=row["jobs"],
            share=float(row["total"] / top),
        )
        for row in rows
    ]


def _key_jobs_url(row: dict) -> str:
    if row["owner"] is None:
        return changelist_url(FineTuningJob, owner__isnull="True")
    return changelist_url(FineTuningJob, owner__id__exact=row["owner"])


def spend(today: date | None = None) -> dict:
    """Spend (``cost_usd`` of jobs that finished in the last ``SPEND_DAYS``
    days, local days) per key, per model and per day."""
    today = today or timezone.localdate()
    first_day = today - timedelta(days=SPEND_DAYS - 1)
    start = timezone.make_aware(datetime.combine(first_day, time.min))
    jobs = FineTuningJob.objects.filter(
        ledger_state=LedgerState.OK,  # a create that failed ran nothing upstream
        cost_usd__isnull=False,
        finished_at__gte=int(start.timestamp()),
    )
    per_key = _spend_rows(
        jobs,
        ("owner", "owner__name"),
        lambda row: row["owner__name"] or "master key",
        _key_jobs_url,
    )
    per_model = _spend_rows(
        jobs,
        ("model",),
        lambda row: row["model"],
        lambda row: changelist_url(FineTuningJob, model__exact=row["model"]),
    )
    days: dict[date, Decimal] = defaultdict(Decimal)
    for finished_at, cost in jobs.values_list("finished_at", "cost_usd"):
        days[timezone.localtime(from_epoch(finished_at)).date()] += cost
    series = [
        (day, days.get(day, Decimal(0)))
        for day in (first_day + timedelta(days=i) for i in range(SPEND_DAYS))
    ]
    return {
        "per_key": per_key,
        "per_model": per_model,
        "total": sum((cost for _, cost in series), Decimal(0)),
        "total_text": format_usd(sum((cost for _, cost in series), Decimal(0))),
        "chart": spend_chart(series),
        "first_day": first_day,
        "today": today,
    }


def spend_chart(series: list[tuple[date, Decimal]]) -> str:
    """Daily spend as an SVG bar chart; each bar says its day and amount on hover."""
    width, height, left, bottom, top_pad = 720, 200, 56, 22, 10
    plot_w, plot_h = width - left - 8, height - bottom - top_pad
    peak = max((cost for _, cost in series), default=Decimal(0))
    if not peak:
        return format_html('<p class="ftp-secondary">{}</p>', "No spend in the last 30 days.")
    step = plot_w / len(series)
    bars = []
    for index, (day, cost) in enumerate(series):
        bar_h = float(cost / peak) * plot_h
        bars.append(
            (
                f"{left + index * step + 1:.1f}",
                f"{top_pad + plot_h - bar_h:.1f}",
                f"{max(step - 2, 1):.1f}",
                f"{bar_h:.1f}",
                f"{day:%Y-%m-%d}: {format_usd(cost)}",
            )
        )
    labels = [
        (f"{left + index * step + step / 2:.1f}", f"{height - 6}", f"{day:%m-%d}")
        for index, (day, _) in enumerate(series)
        if index % 5 == 0 or index == len(series) - 1
    ]
    return format_html(
        '<svg class="ftp-chart" viewBox="0 0 {w} {h}" role="img" aria-label="{aria}">'
        '<line class="axis" x1="{l}" y1="{base}" x2="{w}" y2="{base}"/>'
        '<line class="axis" x1="{l}" y1="{t}" x2="{w}" y2="{t}" stroke-dasharray="3 3"/>'
        '<text x="{lx}" y="{ty}" text-anchor="end">{peak}</text>'
        '<text x="{lx}" y="{base}" text-anchor="end">$0</text>'
        "{bars}{labels}</svg>",
        w=width,
        h=height,
        aria=f"Daily spend over the last {len(series)} days",
        l=left,
        lx=left - 4,
        t=top_pad,
        ty=top_pad + 4,
        base=top_pad + plot_h,
        peak=format_usd(peak),
        bars=format_html_join(
            "",
            '<rect class="bar" x="{}" y="{}" width="{}" height="{}"><title>{}</title></rect>',
            bars,
        ),
        labels=format_html_join("", '<text x="{}" y="{}" text-anchor="middle">{}</text>', labels),
    )


def recent_failures() -> list[dict]:
    jobs = (
        FineTuningJob.objects.filter(status="failed", ledger_state=LedgerState.OK)
        .select_related("owner")
        .order_by("-finished_at", "-updated")[:RECENT_FAILURES]
    )
    return [
        {
            "link": link(job, width=24),
            "key": key_link(job.owner),
            "message": truncated(
                (job.error or {}).get("message") or (job.error or {}).get("code") or "—", 48
            ),
            "when_html": local_time(from_epoch(job.finished_at) or job.updated),
        }
        for job in jobs
    ]


def sync_view(now=None) -> dict:
    """``sync_health`` with its times ready to show."""
    health = sync_health()
    now = now or timezone.now()
    last, failed = health.last_round, health.last_failed_round
    return {
        "late": health.late,
        "last_round": last,
        "last_round_html": local_time(last.finished) if last else "",
        "last_round_age": duration_text(now - last.finished) if last else "",
        "interval_seconds": health.interval_seconds,
        "rounds_24h": health.rounds_24h,
        "failed_rounds_24h": health.failed_rounds_24h,
        "failed_syncs_24h": health.failed_syncs_24h,
        "active_jobs": health.active_jobs,
        "jobs_with_sync_error": health.jobs_with_sync_error,
        "last_failed_round": failed,
        "last_failed_html": local_time(failed.finished) if failed else "",
        "last_failed_error": truncated(failed.first_error, 80) if failed else "",
    }


@admin.register(Dashboard)
class DashboardAdmin(admin.ModelAdmin):
    """The dashboard: its list page is the dashboard itself."""

    class Media:
        css = {"all": ["ftproxy/admin.css"]}

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        context = {
            **self.admin_site.each_context(request),
            "title": "Dashboard",
            "opts": self.model._meta,
            "media": self.media,
            "jobs": jobs_by_status(),
            "spend": spend(),
            "spend_days": SPEND_DAYS,
            "failures": recent_failures(),
            "failed_jobs_url": changelist_url(FineTuningJob, status__exact="failed"),
            "sync": sync_view(),
            "sync_rounds_url": changelist_url(SyncRound),
            "sync_error_url": changelist_url(FineTuningJob, terminal__exact=0, sync_error__gt=""),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, "admin/ftproxy/dashboard.html", context)


@admin.register(SyncRound)
class SyncRoundAdmin(LedgerAdmin):
    """Every sync round of the last days, newest first."""

    list_display = ("finished_column", "worker", "checked", "changed", "failed", "error_short")
    date_hierarchy = "finished"
    finished_column = time_display("finished", column=True)

    @admin.display(description="first error")
    def error_short(self, row: SyncRound) -> str:
        return truncated(row.first_error, 60)
