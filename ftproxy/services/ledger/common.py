"""What the file and job services share: choosing a provider, finding a
ledger row the caller may see, and cursor pagination over the ledger."""

from __future__ import annotations

import dataclasses
import functools
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

from django.db import IntegrityError, connections, models, router, transaction
from django.db.models.lookups import GreaterThan, LessThan

from ...conf import gateway
from ...errors import GatewayMisconfigured, InvalidRequest, NotFoundError
from ...models import LedgerState
from ...providers.base import Provider
from ...providers.data import JobCreate
from .context import CallContext

Row = TypeVar("Row", bound=models.Model)

API_LABELS = {"files_settings": "files", "finetune_settings": "fine-tuning"}


def choose_provider(api: str, entry: str | None, *, fallback: str | None = None) -> Provider:
    """The configured entry named by ``entry``; else ``fallback`` if it is
    configured; else the only entry of that API. 400 otherwise, listing the
    configured entries."""
    entries = gateway().entries(api)
    configured = ", ".join(sorted(entries)) or "none"
    if entry:
        provider = entries.get(entry)
        if provider is None:
            raise InvalidRequest(
                f"custom_llm_provider {entry!r} is not configured for {API_LABELS[api]} "
                f"(configured: {configured}).",
                param="custom_llm_provider",
                code="invalid_provider",
            )
        return provider
    if fallback and fallback in entries:
        return entries[fallback]
    if len(entries) == 1:
        return next(iter(entries.values()))
    if not entries:
        raise InvalidRequest(
            f"No provider is configured for {API_LABELS[api]} ({api} is empty).",
            param="custom_llm_provider",
            code="invalid_provider",
        )
    raise InvalidRequest(
        f"custom_llm_provider is required: several providers are configured for "
        f"{API_LABELS[api]} ({configured}).",
        param="custom_llm_provider",
        code="invalid_provider",
    )


def provider_of(api: str, row: Any) -> Provider:
    """The configured entry a ledger row lives on (the ledger decides)."""
    provider = gateway().provider(api, row.provider)
    if provider is None:
        raise GatewayMisconfigured(
            f"{row.public_id} lives on provider entry {row.provider!r}, which is no longer "
            "configured."
        )
    return provider


def _visibility(ctx: CallContext) -> dict[str, Any]:
    conditions: dict[str, Any] = {"ledger_state": LedgerState.OK}
    if not ctx.caller.is_master:
        conditions["owner_id"] = ctx.caller.key.pk
    return conditions


def visible(queryset: models.QuerySet[Row], ctx: CallContext) -> models.QuerySet[Row]:
    """Rows the caller may see: its own, or all for the master key; only
    rows whose upstream creation succeeded."""
    return queryset.filter(**_visibility(ctx))


def find(model: type[Row], ctx: CallContext, public_id: str, **where: Any) -> Row | None:
    """The row of ``model`` with ``public_id`` (and the ``where`` values)
    that the caller may see.

    On every request's path, so one plain statement through the cursor,
    its row made a model instance as Django makes one (each field's
    database converters, then ``Model.from_db``), instead of a queryset,
    which Django compiles on every use at several times the cost of the
    indexed lookup itself. The SQL depends on the model and the names of
    the conditions only."""
    conditions = {"public_id": public_id, **where, **_visibility(ctx)}
    if any(value is None for value in conditions.values()):  # IS NULL: another statement
        return next(iter(model.objects.filter(**conditions)[:1]), None)
    db = router.db_for_read(model)
    connection = connections[db]
    names = tuple(sorted(conditions))
    sql, fields, attnames = _lookup(model, db, names)
    params = [
        model._meta.get_field(name).get_db_prep_value(conditions[name], connection)
        for name in names
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchone()
    if found is None:
        return None
    values = list(found)
    for position, converters, column in _converters(connection, model, fields):
        value = values[position]
        for convert in converters:
            value = convert(value, column, connection)
        values[position] = value
    return model.from_db(db, attnames, values)


@functools.cache
def _lookup(
    model: type[models.Model], db: str, names: tuple[str, ...]
) -> tuple[str, tuple[models.Field, ...], list[str]]:
    """The statement reading every concrete column of ``model`` where the
    fields ``names`` equal their parameters, and the fields it reads."""
    quote = connections[db].ops.quote_name
    fields = tuple(model._meta.concrete_fields)
    columns = ", ".join(quote(field.column) for field in fields)
    where = " AND ".join(f"{quote(model._meta.get_field(name).column)} = %s" for name in names)
    sql = f"SELECT {columns} FROM {quote(model._meta.db_table)} WHERE {where} LIMIT 1"
    return sql, fields, [field.attname for field in fields]


#: Per connection and model, the converters of the columns that have any:
#: the backend's first, then the field's (``from_db_value``), as Django's
#: compiler applies them.
_CONVERTERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _converters(connection, model: type[models.Model], fields: tuple[models.Field, ...]):
    known = _CONVERTERS.setdefault(connection, {})
    found = known.get(model)
    if found is None:
        found = known[model] = []
        for position, field in enumerate(fields):
            column = field.get_col(model._meta.db_table)
            converters = connection.ops.get_db_converters(column) + field.get_db_converters(
                connection
            )
            if converters:
                found.append((position, converters, column))
    return found


def not_found(kind: str, public_id: str, param: str | None = None) -> NotFoundError:
    return NotFoundError(f"No such {kind}: {public_id}", param=param)


class _Row(models.Func):
    """``(a, b)``: a row value, compared column by column in order."""

    function = ""
    template = "(%(expressions)s)"
    output_field = models.BigIntegerField()  # (created_at, id): both integers


def page(
    queryset: models.QuerySet[Row],
    *,
    after: str | None,
    limit: int,
    descending: bool = True,
    kind: str,
    cursors: models.QuerySet[Row] | None = None,
) -> tuple[list[Row], bool]:
    """One page ordered by (created_at, id), starting after the row whose
    public id is ``after``, looked up in ``cursors`` (default: ``queryset``;
    pass a wider set so that a cursor deleted since its page still works).

    One query whatever the ledger's size: the cursor is a subquery (one
    lookup by its unique public id) and the page the rows
    ``(created_at, id) < (the cursor's)``, a row comparison that is exactly
    a range of the (…, created_at, id) indexes, read from the cursor on;
    ``limit + 1`` rows tell ``has_more``. Only a page that comes back empty
    asks whether its cursor exists."""
    direction = "-" if descending else ""
    if after:
        cursor = (cursors if cursors is not None else queryset).filter(public_id=after)
        position = models.Subquery(
            cursor.values_list("created_at", "id")[:1], output_field=models.BigIntegerField()
        )
        compare = LessThan if descending else GreaterThan
        queryset = queryset.filter(compare(_Row("created_at", "id"), position))
    rows = list(queryset.order_by(f"{direction}created_at", f"{direction}id")[: limit + 1])
    if after and not rows and not cursor.exists():
        raise InvalidRequest(f"after: no such {kind}: {after}", param="after")
    return rows[:limit], len(rows) > limit


def locate(
    model: type[Row],
    ctx: CallContext,
    public_id: str,
    entry: str | None,
    *,
    api: str,
    kind: str,
    adopt: Callable[[Provider], Row],
    where: dict[str, Any] | None = None,
) -> tuple[Row, bool]:
    """The caller's row with ``public_id``; or, for the master key naming a
    provider, the upstream object adopted into the ledger by ``adopt``; else
    404. The flag says the row was just fetched from the provider."""
    row = find(model, ctx, public_id, **(where or {}))
    ctx.note(object_id=public_id)
    if row is not None:
        ctx.note(provider=row.provider)
        return row, False
    if ctx.caller.is_master and entry:
        provider = choose_provider(api, entry)
        if not provider.mints_ids and not model.objects.filter(public_id=public_id).exists():
            return adopt(provider), True
    raise not_found(kind, public_id)


def save_adopted(row: Row) -> Row:
    """Insert an adopted row; if another request adopted the same object
    meanwhile, its row is the one."""
    try:
        with transaction.atomic():
            row.save()
    except IntegrityError:
        existing = type(row).objects.filter(public_id=row.public_id, provider=row.provider).first()
        if existing is None:
            raise
        return existing
    return row


#: The fields of a create's body a provider's ``JobCreate`` takes as they
#: are (the files and the ledger's own facts are given separately).
JOB_BODY_FIELDS = tuple(
    field.name
    for field in dataclasses.fields(JobCreate)
    if field.name not in ("training_file", "validation_file", "source_job", "gateway_id")
)


def job_request(
    body: dict[str, Any],
    *,
    training_file: str,
    validation_file: str | None,
    source_job: dict[str, Any] | None = None,
    gateway_id: str | None = None,
) -> JobCreate:
    """The provider's ``JobCreate`` for a create request's ``body``, with
    the files as the provider names them (``training_file`` and
    ``validation_file`` are remote references). A field added to
    ``JobCreate`` is taken from the body by its name."""
    return JobCreate(
        **{name: body.get(name) for name in JOB_BODY_FIELDS},
        training_file=training_file,
        validation_file=validation_file,
        source_job=source_job,
        gateway_id=gateway_id,
    )
