"""Ledger queries on every request's path, compiled once.

Django compiles a query each time it runs one, which costs several times
an indexed lookup or a one-row insert itself. These two run the SQL that
Django would run, worked out once per shape, and read or write the row as
Django does (its converters, ``Model.from_db``, ``get_db_prep_save``).
"""

from __future__ import annotations

import weakref
from typing import Any, TypeVar

from django.db import connections, models, router
from django.db.models.query import ModelIterable

Row = TypeVar("Row", bound=models.Model)

#: ``first_match``'s compiled lookups, by the query's shape: Django compiles
#: a query on every evaluation, which costs several times the indexed
#: lookup itself.
_MATCHES: dict[tuple, tuple[str, tuple, list[str], list[Any]]] = {}


def first_match(queryset: models.QuerySet[Row], **conditions: Any) -> Row | None:
    """``queryset.filter(**conditions)[:1]``, or None, for lookups by a
    unique value (no ORDER BY). The SQL, and which columns fill which
    fields, are worked out once per shape (the queryset's database, model,
    filters and deferred fields, and the names of ``conditions``), and the
    row then read with the new values as Django itself would read it: its
    converters, ``Model.from_db``. A queryset with joins, annotations or
    extras, row locks, ``values()``, a None value (``IS NULL``: other SQL)
    or a subquery filter is always left to Django."""
    query = queryset.query
    where = str(query.where)
    values = tuple(value for _, value in sorted(conditions.items()))
    if (
        query.select_related
        or query.annotations
        or query.extra
        or query.select_for_update
        or queryset._iterable_class is not ModelIterable
        or None in values
        or " object at 0x" in where  # a subquery: its values are not in the shape
        or query.is_empty()
    ):
        return next(iter(queryset.filter(**conditions)[:1]), None)
    shape = (
        queryset.db,
        queryset.model,
        where,
        query.deferred_loading[1],
        frozenset(query.deferred_loading[0]),
        tuple(sorted(conditions)),
    )
    compiled = _MATCHES.get(shape)
    if compiled is not None:
        return _read_first(queryset.model, queryset.db, values, *compiled)
    matching = queryset.filter(**conditions)[:1]
    compiler = matching.query.get_compiler(using=queryset.db)
    sql, params = compiler.as_sql()
    fixed = tuple(params[: len(params) - len(values)])
    expressions = [column for column, _, _ in compiler.select]
    if tuple(params[len(fixed) :]) == values and compiler.klass_info["select_fields"] == list(
        range(len(expressions))
    ):  # the values pass through unchanged, last; only the model's own columns
        _MATCHES[shape] = (sql, fixed, [col.target.attname for col in expressions], expressions)
    return next(iter(matching), None)


def _read_first(model, db: str, values: tuple, sql, fixed, attnames, expressions):
    connection = connections[db]
    with connection.cursor() as cursor:
        cursor.execute(sql, fixed + values)
        found = cursor.fetchone()
    if found is None:
        return None
    row = list(found)
    for position, converters, expression in _converters(connection, sql, expressions):
        value = row[position]
        for convert in converters:
            value = convert(value, expression, connection)
        row[position] = value
    return model.from_db(db, attnames, row)


#: Each connection's converters for each compiled lookup, as Django's
#: compiler lists them (they depend on the backend and the column only).
_CONVERTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _converters(connection, sql: str, expressions) -> list[tuple[int, list, Any]]:
    known = _CONVERTERS.setdefault(connection, {})
    found = known.get(sql)
    if found is None:
        found = known[sql] = [
            (position, converters, expression)
            for position, expression in enumerate(expressions)
            if (
                converters := connection.ops.get_db_converters(expression)
                + expression.get_db_converters(connection)
            )
        ]
    return found


#: ``insert_row``'s statements, by (database, model).
_INSERTS: dict[tuple[str, type], tuple[str, list[models.Field]]] = {}


def insert_row(row: models.Model) -> None:
    """``row.save(force_insert=True)`` for a model without signals or
    relations to fill in, when its id is not needed afterwards (audit
    rows): every concrete field but the id, prepared as Django prepares it."""
    model = type(row)
    db = router.db_for_write(model)
    connection = connections[db]
    compiled = _INSERTS.get((db, model))
    if compiled is None:
        fields = [field for field in model._meta.concrete_fields if not field.primary_key]
        quote = connection.ops.quote_name
        sql = "INSERT INTO {} ({}) VALUES ({})".format(
            quote(model._meta.db_table),
            ", ".join(quote(field.column) for field in fields),
            ", ".join(["%s"] * len(fields)),
        )
        compiled = _INSERTS[(db, model)] = (sql, fields)
    sql, fields = compiled
    values = [field.get_db_prep_save(field.pre_save(row, True), connection) for field in fields]
    with connection.cursor() as cursor:
        cursor.execute(sql, values)
