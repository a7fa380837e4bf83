"""List pages with a query no database can take.

A list filter, a search or a date drill-down whose value holds a NUL
character (or text not valid as UTF-8) would fail in the database as the
page renders (PostgreSQL refuses NUL in text): a 500. Django's own answer
to a filter it cannot apply is used instead: back to the plain list with
``?e=1``, which shows it unfiltered.
"""

from __future__ import annotations

from django.contrib.admin.views.main import ERROR_FLAG
from django.http import HttpRequest, HttpResponseRedirect

from ..validation.text import unstorable


def has_unstorable_query(request: HttpRequest) -> bool:
    """A key or value of the query string no database can take."""
    return any(
        unstorable(key) or any(unstorable(value) for value in values)
        for key, values in request.GET.lists()
    )


class StorableQuery:
    """A ``ModelAdmin`` mixin: a list page asked with such a query goes back
    to the plain list, as for any filter Django cannot apply."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None):
        if has_unstorable_query(request):
            return HttpResponseRedirect(f"{request.path}?{ERROR_FLAG}=1")
        return super().changelist_view(request, extra_context)
