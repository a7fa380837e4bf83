"""A job's status history as a table: each change with its local time to
the second, and the time the job spent in the status it entered."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django.utils.html import format_html, format_html_join

from ..models import FineTuningJob, JobEvent
from .display import EMPTY, local_time


def duration_text(delta: timedelta) -> str:
    """``3 d 4 h``, ``2 h 05 min``, ``4 min 09 s``, ``12 s``."""
    seconds = max(0, int(delta.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, seconds = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h"
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {seconds:02d} s"
    return f"{seconds} s"


def time_in_states(
    events: list[JobEvent], *, final: bool, now: datetime | None = None
) -> list[str]:
    """For events oldest first: how long the job stayed in each entered
    status (until the next change; the last one "final", or "so far")."""
    now = now or timezone.now()
    spent = []
    for index, event in enumerate(events):
        if index + 1 < len(events):
            spent.append(duration_text(events[index + 1].created - event.created))
        elif final:
            spent.append("final")
        else:
            spent.append(f"{duration_text(now - event.created)} so far")
    return spent


def status_history_table(job: FineTuningJob) -> str:
    events = list(JobEvent.objects.filter(job=job).order_by("created", "id"))
    if not events:
        return EMPTY
    spent = time_in_states(events, final=job.terminal)
    rows = format_html_join(
        "",
        "<tr><td>{}</td><td>{}</td><td>→ <span class='ftp-status ftp-status-{}'>{}</span></td>"
        "<td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        (
            (
                local_time(event.created),
                event.from_status or "∅",
                event.to_status,
                event.to_status,
                time_spent,
                event.provider_status or EMPTY,
                event.source,
                event.message or "",
            )
            for event, time_spent in zip(events, spent, strict=True)
        ),
    )
    return format_html(
        "<table class='ftp-history'><thead><tr><th>when</th><th>from</th><th>to</th>"
        "<th>time in status</th><th>provider status</th><th>source</th><th>message</th>"
        "</tr></thead><tbody>{}</tbody></table>",
        rows,
    )
