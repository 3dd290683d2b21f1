"""The engine's hot statements as prepared statements on Django's own connection.

Django binds parameters on the client, so Postgres parses and plans every statement it is sent. The claim
and the completion are CTEs that cost more to plan (0.3-0.5 ms) than to run (0.1-0.2 ms), once per step. A
server-binding psycopg cursor with `prepare=True` plans each of them once per connection instead. The cursor
is opened on Django's connection, so these statements join Django's transactions, and psycopg's errors
reach the caller as Django's (`with_db_retry` and `transaction.atomic` see the types they expect).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import psycopg
from django.db import connection

Params = Mapping[str, Any]
Rows = list[tuple[Any, ...]]


@contextmanager
def _cursor() -> Iterator[psycopg.Cursor[tuple[Any, ...]]]:
    connection.ensure_connection()
    with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
        yield cursor


def fetch(statement: str, params: Params) -> Rows:
    """Run one prepared statement; its rows (none for a statement that returns none)."""
    with _cursor() as cursor:
        cursor.execute(statement, params, prepare=True)
        return cursor.fetchall() if cursor.description else []


def fetch_pipelined(*statements: tuple[str, Params]) -> list[Rows]:
    """Run statements one after the other in one round trip (psycopg's pipeline mode; a transaction that has
    not begun yet sends its BEGIN in the same round trip). Each sees what the ones before it changed."""
    with _cursor() as first:
        cursors = [first, *(psycopg.Cursor(connection.connection) for _ in statements[1:])]
        with connection.connection.pipeline():
            for cursor, (statement, params) in zip(cursors, statements, strict=True):
                cursor.execute(statement, params, prepare=True)
        return [cursor.fetchall() if cursor.description else [] for cursor in cursors]
