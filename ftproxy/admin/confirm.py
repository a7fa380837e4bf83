"""Actions that ask first, as Django's "delete selected" does: the action
answers a page listing what it will touch, and acts only when that page is
posted back with ``post=yes``."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.contrib import admin
from django.contrib.admin import helpers
from django.db.models import QuerySet
from django.http import HttpRequest
from django.template.response import TemplateResponse


@dataclass
class Touched:
    """One selected row on a confirmation page: its link (HTML), the facts
    that matter for the action, and whether the action will skip it."""

    link: str
    facts: list[str] = field(default_factory=list)
    skipped: str = ""


def confirmed(request: HttpRequest) -> bool:
    """Whether the confirmation page was posted back."""
    return request.POST.get("post") == "yes"


def confirmation_page(
    model_admin: admin.ModelAdmin,
    request: HttpRequest,
    queryset: QuerySet,
    *,
    action: str,
    title: str,
    question: str,
    consequences: list[str],
    rows: list[Touched],
    button: str,
) -> TemplateResponse:
    """The "are you sure?" page of ``action`` for the selected ``queryset``."""
    opts = model_admin.model._meta
    context = {
        **model_admin.admin_site.each_context(request),
        "title": title,
        "question": question,
        "consequences": consequences,
        "rows": rows,
        "acting": [row for row in rows if not row.skipped],
        "queryset": queryset,
        "opts": opts,
        "action": action,
        "button": button,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/ftproxy/confirm_action.html", context)
