"""The engine's hot statements as prepared statements on Django's own connection.

Django binds parameters on the client, so Postgres parses and plans every statement it is sent. The claim
and the completion are CTEs that cost more to plan (0.3-0.5 ms) than to run (0.1-0.2 ms), once per step. A
server-binding psycopg cursor with `prepare=True` plans each of them once per connection instead. The cursor
is opened on Django's connection, so these statements join Django's transactions, and psycopg's errors
reach the caller as Django's (`with_db_retry` and `transaction.atomic` see the types they expect).

Postgres then keeps one generic plan per statement and connection, made for the tables as they were. The
statements are written so that plan goes by key whatever the statistics said (lifecycle.py, checked by
tests/engine/test_hot_plans.py). On a fresh install, a plan made while a table was nearly empty scans it
whole until autovacuum's next ANALYZE or the connection's renewal (DB_CONN_MAX_AGE) plans it again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime
from functools import cache
from typing import Any, TypeVar, cast
from uuid import UUID

import psycopg
from django.db import connection
from django.db.models import Field, JSONField, Model
from django.db.models.base import ModelState
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb

from sfpserver.engine.statements import Statement

Params = Mapping[str, Any]
Row = dict[str, Any]  # a row by column name; callers build their typed objects from it
Rows = list[Row]


@contextmanager
def _cursor() -> Iterator[psycopg.Cursor[Row]]:
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection, row_factory=dict_row) as cursor:
        yield cursor


@cache
def _encoded(statement: str) -> bytes:
    """Each statement text encoded once (psycopg would encode, and then hash, the text on every call)."""
    return statement.encode()


def fetch(statement: Statement, params: Params) -> Rows:
    """Run one prepared (hot) statement that returns rows; its rows."""
    with _cursor() as cursor:
        cursor.execute(_encoded(statement.text), params, prepare=True)
        return cursor.fetchall()


def rows(statement: Statement, params: Params | None = None) -> Rows:
    """Run a statement that is not hot on Django's cursor (parameters bound on the client); its rows by name."""
    with connection.cursor() as cursor:
        cursor.execute(statement.text, params)
        names = [column.name for column in cursor.description or ()]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


def execute(statement: Statement, params: Params | None = None) -> int:
    """Run a statement that is not hot and returns no rows; how many rows it changed."""
    with connection.cursor() as cursor:
        cursor.execute(statement.text, params)
        return int(cursor.rowcount)


def fetch_pipelined(*statements: tuple[Statement, Params]) -> list[Rows]:
    """Run statements that return rows one after the other in one round trip (psycopg's pipeline mode). Each
    sees what the ones before it changed. Outside a transaction they form one, committed by that round trip;
    in one (transaction.atomic), its BEGIN goes in the same round trip. A lone statement goes without a pipeline
    (entering and leaving one costs more than the statement's own round trip saves)."""
    if len(statements) == 1:
        return [fetch(*statements[0])]
    with _cursor() as first:
        cursors = [first, *(psycopg.Cursor(connection.connection, row_factory=dict_row) for _ in statements[1:])]
        with connection.connection.pipeline():
            for cursor, (statement, params) in zip(cursors, statements, strict=True):
                cursor.execute(_encoded(statement.text), params, prepare=True)
        return [cursor.fetchall() if cursor.description is not None else [] for cursor in cursors]


def inserts(objects: Sequence[Model]) -> list[tuple[Statement, Params]]:
    """Statements that insert model instances (which carry their primary keys), one per model in the order each
    first appears, each a prepared statement taking its rows as one JSON parameter (as statements.START_RUNS)."""
    by_model: dict[type[Model], list[Model]] = {}
    for obj in objects:
        by_model.setdefault(type(obj), []).append(obj)
    return [(_insert_statement(model), {"rows": json_rows(model, rows)}) for model, rows in by_model.items()]


@cache
def _insert_statement(model: type[Model]) -> Statement:
    table = connection.ops.quote_name(model._meta.db_table)
    text = f"INSERT INTO {table} SELECT * FROM jsonb_populate_recordset(NULL::{table}, %(rows)s)"
    return Statement(f"insert {model._meta.label}", text)


def copy_rows(model: type[Model], objects: Sequence[Model]) -> None:
    """Insert model instances, which carry their primary keys, with COPY: what bulk_create does, without building
    and parsing one statement with a placeholder per value (a fraction of the time for a run_many of thousands).
    Defaults are the instances' own (set when they were built); auto_now(_add) fields are stamped here."""
    if not objects:
        return
    fields = _stamped(model, objects)
    columns = ", ".join(connection.ops.quote_name(field.column) for field in fields)
    json_fields = {index for index, field in enumerate(fields) if isinstance(field, JSONField)}
    statement = f"COPY {connection.ops.quote_name(model._meta.db_table)} ({columns}) FROM STDIN"
    with _cursor() as cursor, cursor.copy(statement.encode()) as copy:
        for obj in objects:
            row = [getattr(obj, field.attname) for field in fields]
            for index in json_fields:
                if row[index] is not None:
                    row[index] = Jsonb(row[index])
            copy.write_row(row)


M = TypeVar("M", bound=Model)


def build(model: type[M], **values: Any) -> M:
    """`model(**values)` for the rows a trigger builds by the hundred (a run and its steps): the same instance, its
    defaults and its foreign keys (given as objects or ids) set, at a fraction of the cost of Django's `__init__`,
    which goes through every field's descriptor and the init signals (the engine's models have no receivers of
    them; tests/engine/test_trigger_rows.py checks both give the same rows)."""
    blank = _blank(model)
    obj = model.__new__(model)
    obj._state = ModelState()
    state = obj.__dict__
    state.update(blank.constant)
    for attname, default in blank.computed:
        if attname not in values:
            state[attname] = default()
    for name, value in values.items():
        relation = blank.relations.get(name)
        if relation is not None:  # run=<WorkflowRun>: its key, and the object cached as the descriptor does
            state[relation] = None if value is None else value.pk
            obj._state.fields_cache[name] = value
        elif name in blank.attnames:
            state[name] = value
        else:
            raise TypeError(f"{model.__name__}() got an unexpected keyword argument {name!r}")
    return obj


@dataclass(frozen=True)
class _Blank:
    constant: dict[str, Any]  # attname -> default, the same object for every instance (as Django's get_default)
    computed: list[tuple[str, Any]]  # attname -> callable default, called for each instance
    relations: dict[str, str]  # a foreign key's name -> its attname
    attnames: frozenset[str]


@cache
def _blank(model: type[Model]) -> _Blank:
    constant: dict[str, Any] = {}
    computed: list[tuple[str, Any]] = []
    for field in model._meta.concrete_fields:
        if field.has_default() and callable(field.default):
            computed.append((field.attname, field.default))
        else:
            constant[field.attname] = field.get_default()
    relations = {field.name: field.attname for field in model._meta.concrete_fields if field.is_relation}
    return _Blank(constant, computed, relations, frozenset(field.attname for field in model._meta.concrete_fields))


def json_rows(model: type[Model], objects: Sequence[Model]) -> str:
    """Model instances, which carry their primary keys, as one JSON array of rows by column name: the parameter of
    a prepared statement that inserts them with `jsonb_populate_recordset` (statements.START_RUNS), which is one
    round trip where COPY is two. As `copy_rows`, the instances' own defaults, and auto_now(_add) stamped here. A
    NULL is left out (the recordset fills in what a row lacks with NULL)."""
    _stamped(model, objects)
    columns = _json_columns(model)
    rows = []
    for obj in objects:
        state = obj.__dict__
        row = {}
        for column, attname, scalar in columns:
            value = state[attname]
            if value is not None:
                row[column] = scalar(value) if scalar is not None else value
        rows.append(row)
    return json.dumps(rows, default=_json_scalar, separators=(",", ":"))


@cache
def _json_columns(model: type[Model]) -> list[tuple[str, str, Any]]:
    """(column, attname, how its value is written in JSON, or None when json writes it as it is)."""
    columns = []
    for field in model._meta.concrete_fields:
        target = cast("Field[Any, Any]", getattr(field, "target_field", field))  # a foreign key: the key it holds
        kind = target.get_internal_type()
        scalar = {"UUIDField": str, "DateTimeField": _iso, "DateField": _iso}.get(kind)
        columns.append((field.column, field.attname, scalar))
    return columns


def _iso(value: datetime | date) -> str:
    return value.isoformat()


def _json_scalar(value: Any) -> str:
    """UUIDs and times as Postgres reads them back (full precision: DjangoJSONEncoder cuts microseconds)."""
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, UUID):
        return str(value)
    raise TypeError(f"{type(value).__name__} is not a column value")


def _stamped(model: type[Model], objects: Sequence[Model]) -> list[Field[Any, Any]]:
    """The model's columns, once its auto_now(_add) fields are stamped on every object."""
    fields = list(model._meta.concrete_fields)
    stamped = [field for field in fields if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False)]
    for obj in objects:
        for field in stamped:
            field.pre_save(obj, add=True)
    return fields
