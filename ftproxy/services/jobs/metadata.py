"""Filtering the job list on ``metadata`` keys (``list_jobs``)."""

from __future__ import annotations

from django.db.models import F, Func, TextField


class MetadataText(Func):
    """The text value of one top-level key of a JSON column. The key is
    always a key, never an array index or a lookup path (Django's own key
    transforms read "0" as an index)."""

    output_field = TextField()

    def __init__(self, expression: str, *, key: str):
        super().__init__(F(expression))
        self.key = key

    def as_sql(self, compiler, connection, **extra):  # SQLite
        sql, params = compiler.compile(self.source_expressions[0])
        return f"JSON_EXTRACT({sql}, %s)", [*params, f'$."{self.key}"']

    def as_postgresql(self, compiler, connection, **extra):
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} ->> %s)", [*params, self.key]
