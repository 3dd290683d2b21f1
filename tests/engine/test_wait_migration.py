"""The migration to explicit wait states reads each step's old columns once and says what it waits for."""

from __future__ import annotations

import importlib
from datetime import datetime, timedelta
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

migration = importlib.import_module("sfpserver.engine.migrations.0009_step_wait_states")

NOW = timezone.now()
PAST, SENT, LATER = NOW - timedelta(minutes=5), NOW - timedelta(minutes=1), NOW + timedelta(minutes=5)

# (status, gated, available_at, dispatched_at, backoff_until) -> (waiting_for, due_at)
CASES: list[tuple[tuple[str, bool, Any, Any, Any], tuple[str | None, datetime | None]]] = [
    (("PENDING", False, None, None, None), ("parents", None)),
    (("QUEUED", False, PAST, SENT, None), ("delivered", SENT)),
    (("QUEUED", False, PAST, None, None), ("broker", PAST)),
    (("QUEUED", False, LATER, None, None), ("backoff", LATER)),
    (("QUEUED", True, None, None, None), ("gates", None)),
    (("QUEUED", True, None, None, LATER), ("backoff", LATER)),
    (("QUEUED", True, PAST, PAST, None), ("delivered", PAST)),
    (("RUNNING", False, PAST, PAST, None), (None, None)),
    (("COMPLETED", True, PAST, PAST, None), (None, None)),
]


def test_the_migration_fills_each_steps_wait_from_its_old_columns(db_access: None) -> None:
    assert _migrated([given for given, _ in CASES]) == [expected for _, expected in CASES]


class _RollBack(Exception):
    pass


def _migrated(rows: list[tuple[str, bool, Any, Any, Any]]) -> list[tuple[str | None, datetime | None]]:
    """FILL_SQL run on a temporary engine_steprun with the old columns (it hides the real table), rolled back."""
    found: list[tuple[str | None, datetime | None]] = []
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE engine_steprun (n int, status text, gated bool, available_at timestamptz,"
                " dispatched_at timestamptz, backoff_until timestamptz, waiting_for text, due_at timestamptz)"
                " ON COMMIT DROP"
            )
            for n, row in enumerate(rows):
                cursor.execute("INSERT INTO engine_steprun VALUES (%s, %s, %s, %s, %s, %s, NULL, NULL)", [n, *row])
            cursor.execute(migration.FILL_SQL)
            cursor.execute("SELECT waiting_for, due_at FROM engine_steprun ORDER BY n")
            found.extend(cursor.fetchall())
            raise _RollBack
    except _RollBack:
        pass
    return found
