"""The plans of the engine's prepared statements stay on keys, whatever the statistics said when they were made.

A worker's connection keeps one generic plan per hot statement (sfpserver/engine/sql.py). Planned while few
steps were queued, a plan that reached a step through a status index would scan every queued step on each
claim once a backlog builds. Here the tables get a server's size and statistics that make the status indexes
look empty (what a quiet moment leaves), and every hot statement's generic plan must still go by key. Every
other statement of sfpserver/engine/statements.py is planned (or, a command, run) here too.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction

from sfpserver.engine import statements

BIG_TABLES = ("engine_steprun", "engine_workflowrun", "engine_attempt")
STATUS_INDEXES = ("step_waiting", "step_running_deadline", "step_running_worker")
TYPES = {
    "step": "uuid",
    "parent": "uuid",
    "run": "uuid",
    "attempt": "integer",
    "worker": "uuid",
    "worker_name": "text",
    "lease_hash": "text",
    "output": "text",
    "now": "timestamptz",
    "queues": "text[]",
    "batch": "integer",
    "before": "timestamptz",
    "after": "float8",
    "since": "timestamptz",
    "key": "text",
    "lock_key": "bigint",
    "task": "text",
    "window": "integer",
    "ttl": "float8",
    "workflow": "text",
    "method": "text",
    "steps": "uuid[]",
    "run_rows": "jsonb",
    "step_rows": "jsonb",
    "attempts": "integer[]",
    "lease_hashes": "text[]",
}
HOT_STATEMENTS = {statement.name: statement.text for statement in statements.ALL if statement.hot}
OTHER_STATEMENTS = {s.name: s for s in statements.ALL if not s.hot}
ARGUMENTS = {
    "step": "'00000000-0000-0000-0000-000000000001'",
    "parent": "'00000000-0000-0000-0000-000000000001'",
    "run": "'00000000-0000-0000-0000-000000000002'",
    "attempt": "0",
    "worker": "NULL",
    "worker_name": "'w'",
    "lease_hash": "''",
    "output": "NULL",
    "now": "now()",
    "queues": "'{standard}'",
    "batch": "200",
    "before": "NULL",
    "after": "30",
    "since": "now()",
    "key": "'k'",
    "lock_key": "1",
    "task": "'t'",
    "window": "300",
    "ttl": "60",
    "workflow": "'w'",
    "method": "'TTL'",
    "steps": "'{00000000-0000-0000-0000-000000000001}'",
    "run_rows": "'[]'",
    "step_rows": "'[]'",
    "attempts": "'{0}'",
    "lease_hashes": "'{x}'",
}


@pytest.fixture
def server_statistics(db_access: None) -> Iterator[None]:
    """Big tables, status indexes that look empty, and almost no run QUEUED; ANALYZE puts the truth back."""
    if connection.pg_version < 180000:  # type: ignore[attr-defined]
        pytest.skip("setting statistics needs PostgreSQL 18")
    with connection.cursor() as cursor:
        for table in BIG_TABLES:
            cursor.execute(
                "SELECT pg_restore_relation_stats('schemaname', 'public', 'relname', %s, "
                "'relpages', 200000::integer, 'reltuples', 20000000::real)",
                [table],
            )
        for index in [*STATUS_INDEXES, *_status_index_of_runs(cursor)]:
            cursor.execute(
                "SELECT pg_restore_relation_stats('schemaname', 'public', 'relname', %s, "
                "'relpages', 1::integer, 'reltuples', 0::real)",
                [index],
            )
        for table in BIG_TABLES[:2]:
            cursor.execute(
                "SELECT pg_restore_attribute_stats('schemaname', 'public', 'relname', %s, 'attname', 'status', "
                "'inherited', false, 'null_frac', 0::real, 'avg_width', 9, 'n_distinct', 6::real, "
                "'most_common_vals', '{COMPLETED}'::text, 'most_common_freqs', '{0.9999}'::real[])",
                [table],
            )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"ANALYZE {', '.join(BIG_TABLES)}")


def _status_index_of_runs(cursor: Any) -> list[str]:
    cursor.execute(
        "SELECT indexname FROM pg_indexes WHERE tablename = 'engine_workflowrun' AND indexdef LIKE '%%(status,%%'"
    )
    return [row[0] for row in cursor.fetchall()]


def generic_plan(name: str, statement: str) -> dict[str, Any]:
    """EXPLAIN of the statement prepared with typed parameters, as its generic plan."""
    order: list[str] = []

    def positional(match: re.Match[str]) -> str:
        if match.group(1) not in order:
            order.append(match.group(1))
        return f"${order.index(match.group(1)) + 1}"

    text = re.sub(r"%\((\w+)\)s", positional, statement)
    types = ", ".join(TYPES[key] for key in order)
    values = ", ".join(ARGUMENTS[key] for key in order)
    with connection.cursor() as cursor:
        # The planner sizes tables by their real pages (few, here): without this it would scan them whole.
        cursor.execute("SET plan_cache_mode = force_generic_plan; SET enable_seqscan = off")
        try:
            cursor.execute(f"PREPARE {name} ({types}) AS {text}" if order else f"PREPARE {name} AS {text}")
            cursor.execute(f"EXPLAIN (FORMAT JSON) EXECUTE {name}" + (f" ({values})" if order else ""))
            plan = cursor.fetchone()[0]
            cursor.execute(f"DEALLOCATE {name}")
        finally:
            cursor.execute("RESET plan_cache_mode; RESET enable_seqscan")
    found: dict[str, Any] = (json.loads(plan) if isinstance(plan, str) else plan)[0]["Plan"]
    return found


def scans(plan: dict[str, Any]) -> list[tuple[str, str, str]]:
    """(node type, relation, index) of every scan in the plan."""
    own = (
        [(plan["Node Type"], plan.get("Relation Name", ""), plan.get("Index Name", ""))]
        if "Scan" in plan["Node Type"]
        else []
    )
    return own + [scan for child in plan.get("Plans", []) for scan in scans(child)]


@pytest.mark.usefixtures("server_statistics")
@pytest.mark.parametrize("statement", list(HOT_STATEMENTS))
def test_every_hot_statement_reaches_its_rows_by_key(statement: str) -> None:
    plan = generic_plan("hot_" + re.sub(r"\W", "_", statement), HOT_STATEMENTS[statement])
    found = scans(plan)
    status_indexes = set(STATUS_INDEXES) | set(_status_indexes())
    assert [scan for scan in found if scan[2] in status_indexes] == []
    # By a primary key (of a text key, its pattern-ops twin, which Postgres may take for equality too).
    assert any(scan[2].endswith(("_pkey", "_like")) for scan in found), found


def _status_indexes() -> list[str]:
    with connection.cursor() as cursor:
        return _status_index_of_runs(cursor)


@pytest.fixture
def many_crons(db_access: None) -> Iterator[None]:
    """20,000 crons by the statistics (none in the table)."""
    if connection.pg_version < 180000:  # type: ignore[attr-defined]
        pytest.skip("setting statistics needs PostgreSQL 18")
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_restore_relation_stats('schemaname', 'public', 'relname', 'engine_cronnextfire', "
            "'relpages', 200::integer, 'reltuples', 20000::real)"
        )
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE engine_cronnextfire")


@pytest.mark.usefixtures("many_crons")
def test_the_scheduler_finds_due_crons_through_the_next_fire_index() -> None:
    found = scans(generic_plan("due_crons", statements.DUE_CRONS.text))
    assert [index for _, _, index in found] == ["cron_next_fire_due"]


def test_the_statements_module_holds_the_hot_statements() -> None:
    assert set(HOT_STATEMENTS) == {
        "claim",
        "hand-off",
        "complete",
        "complete a one-step run",
        "settle after a completion",
        "start runs",
        "claim several",
        "settle a run",
    }
    assert len({statement.name for statement in statements.ALL}) == len(statements.ALL)


@pytest.mark.parametrize("name", list(OTHER_STATEMENTS))
def test_every_other_statement_plans_or_runs(db_access: None, name: str) -> None:
    statement = OTHER_STATEMENTS[name]
    if statement.utility:
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(statement.text)
        return
    plan = generic_plan("other_" + re.sub(r"\W", "_", name), statement.text)
    assert plan["Node Type"]
