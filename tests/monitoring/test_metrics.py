"""/metrics: Prometheus text that a scraper parses, with queue depth, runs and steps by status, windowed
latency histograms per workflow and pool, retries, reassignments, worker slots and liveness."""

from __future__ import annotations

import math
import socket
import urllib.request
from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
import redis
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config.celery import app
from sfpserver.engine import drain, lifecycle
from sfpserver.engine.definitions import StepDef, WorkflowDef
from sfpserver.engine.dispatch import RUN_STEP_TASK
from sfpserver.engine.models import Attempt, ConcurrencySlot, SlotState, StepRun, WaitingFor, Worker, WorkerStatus
from sfpserver.engine.trigger import trigger
from sfpserver.monitoring import broker
from sfpserver.monitoring.exposition import Family, render
from tests.conftest import Processes, wait_until
from tests.engine.helpers import steps, wait_for_run

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(client: Client, **headers: str) -> Samples:
    response = client.get("/metrics", headers=headers)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    return parse(response.content.decode())


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: Any) -> float | None:
    return samples.get((name, frozenset((key, str(val)) for key, val in labels.items())))


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid4().hex[:8]}"


# --- the format -------------------------------------------------------------------------------------------


def test_the_exposition_escapes_label_values_and_writes_histograms_a_parser_reads_back() -> None:
    family = Family("sfp_example_seconds", "histogram", "An example\nover two lines")
    family.add_histogram((0.5, 1), [1, 2, 3], 4.25, {"workflow": 'odd "name" \\ with\nnewline'})

    parsed = parse(render([family]))

    labels = {"workflow": 'odd "name" \\ with\nnewline'}
    assert value(parsed, "sfp_example_seconds_bucket", **labels, le="0.5") == 1
    assert value(parsed, "sfp_example_seconds_bucket", **labels, le="+Inf") == 3
    assert value(parsed, "sfp_example_seconds_count", **labels) == 3
    assert value(parsed, "sfp_example_seconds_sum", **labels) == 4.25


def test_metrics_need_the_bearer_token_when_one_is_configured(db_access: None, client: Client, settings: Any) -> None:
    settings.METRICS_TOKEN = "scrape-me"

    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Basic scrape-me"}).status_code == 401
    assert value(scrape(client, Authorization="Bearer scrape-me"), "sfp_metrics_window_seconds") == 300


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_the_api_process_serves_metrics_to_a_scraper(platform: Processes) -> None:
    port = free_port()
    platform.start("metrics-api", "api", "--port", str(port))
    try:

        def fetch() -> str | None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
                    return str(response.read().decode())
            except OSError:
                return None

        samples = parse(wait_until(fetch, timeout=60, what="the API to answer"))
    finally:
        platform.stop("metrics-api")
    assert value(samples, "sfp_metrics_collector_success", collector="broker") == 1
    assert value(samples, "sfp_worker_slots", pool="standard") is not None


# --- queues -----------------------------------------------------------------------------------------------


@pytest.fixture
def idle_queue(db_access: None) -> Iterator[str]:
    """A queue no worker serves, emptied afterwards."""
    name = unique("metrics")
    yield name
    keys = [key for _, key in broker.sub_queues(name)]
    redis.Redis.from_url(app.conf.broker_url).delete(*keys)


def _hold_at_its_gate(run_id: Any, step_id: Any, holder_id: Any) -> None:
    """A concurrency key of one place, held by another step: the gated step truly waits (the scheduler's safety
    net would otherwise admit and publish a step that only looks gated)."""
    key = f"metrics-test-{uuid4().hex[:8]}"
    slot = {"key": key, "strategy": "GROUP_ROUND_ROBIN", "max_runs": 1, "run_id": run_id}
    ConcurrencySlot.objects.create(**slot, step_id=holder_id, state=SlotState.HOLDING)
    ConcurrencySlot.objects.create(**slot, step_id=step_id, state=SlotState.WAITING)


def test_queue_depth_counts_queued_steps_in_postgres_and_messages_in_redis_per_queue(
    idle_queue: str, client: Client
) -> None:
    workflow = WorkflowDef(
        unique("m.queue"),
        steps=(
            StepDef("ready", "t:echo", queue=idle_queue),
            StepDef("later", "t:echo", queue=idle_queue),
            StepDef("gated", "t:echo", queue=idle_queue),
            StepDef("child", "t:echo", parents=("ready",), queue=idle_queue),
        ),
    )
    run_id = trigger(workflow)  # publishes ready, later and gated
    held = timezone.now() + timedelta(hours=1)
    StepRun.objects.filter(run_id=run_id, name="ready").update(due_at=held)  # no sweeper re-publishes it
    later = StepRun.objects.filter(run_id=run_id, name="later")
    later.update(waiting_for=WaitingFor.BACKOFF, due_at=held)  # a retry in its backoff
    gated = StepRun.objects.filter(run_id=run_id, name="gated")
    _hold_at_its_gate(run_id, gated.get().id, StepRun.objects.get(run_id=run_id, name="later").id)  # first
    gated.update(waiting_for=WaitingFor.GATES, due_at=None, gated=True)
    app.send_task(RUN_STEP_TASK, args=[str(uuid4()), 0], queue=idle_queue, priority=5)

    samples = scrape(client)

    assert [value(samples, "sfp_queue_depth", queue=idle_queue, state=s) for s in ("ready", "delayed", "gated")] == [
        1,
        1,
        1,
    ]
    assert value(samples, "sfp_steps", queue=idle_queue, status="QUEUED") == 3
    assert value(samples, "sfp_steps", queue=idle_queue, status="PENDING") == 1
    assert value(samples, "sfp_steps", queue=idle_queue, status="RUNNING") == 0
    # The three step messages go out at LOW priority (kombu's step 9); the hand-made one lands in step 3.
    assert value(samples, "sfp_broker_queue_length", queue=idle_queue, priority=9) == 3
    assert value(samples, "sfp_broker_queue_length", queue=idle_queue, priority=3) == 1
    assert value(samples, "sfp_runs", workflow=workflow.name, status="QUEUED") == 1
    lifecycle.cancel_run(run_id)


def test_a_broker_that_does_not_answer_costs_only_the_broker_figures(
    db_access: None, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(broker, "_client", redis.Redis(port=1, socket_connect_timeout=0.5, socket_timeout=0.5))

    samples = scrape(client)

    assert value(samples, "sfp_metrics_collector_success", collector="broker") == 0
    assert value(samples, "sfp_metrics_collector_success", collector="steps") == 1
    assert value(samples, "sfp_queue_depth", queue="standard", state="ready") is not None
    assert not any(name.startswith("sfp_broker") for name, _ in samples)


# --- latency, retries, outcomes (real workers) -------------------------------------------------------------


def attempt_seconds(run_id: UUID) -> list[float]:
    rows = Attempt.objects.filter(step__run_id=run_id).values_list("started_at", "finished_at")
    return [(finished - started).total_seconds() for started, finished in rows if finished is not None]


def test_step_durations_waits_retries_and_outcomes_are_measured_per_workflow_and_pool(
    platform: Processes, client: Client
) -> None:
    workflow = WorkflowDef(
        unique("m.latency"),
        steps=(StepDef("first", "t:echo"), StepDef("flaky", "t:flaky", parents=("first",), retries=2)),
    )
    run_id = trigger(workflow, {"fail_times": 1})
    assert wait_for_run(run_id).status == "COMPLETED"

    samples = scrape(client)

    labels = {"workflow": workflow.name, "pool": "standard"}
    assert value(samples, "sfp_runs_finished", workflow=workflow.name, status="COMPLETED") == 1
    assert value(samples, "sfp_step_attempts_finished", **labels, outcome="COMPLETED") == 2
    assert value(samples, "sfp_step_attempts_finished", **labels, outcome="FAILED") == 1
    assert value(samples, "sfp_step_retries", **labels) == 1
    assert value(samples, "sfp_step_reassignments", **labels) is None
    assert value(samples, "sfp_step_duration_seconds_count", **labels) == 3
    assert value(samples, "sfp_step_duration_seconds_sum", **labels) == pytest.approx(sum(attempt_seconds(run_id)))
    assert value(samples, "sfp_step_queue_wait_seconds_count", **labels) == 3
    for histogram in ("sfp_step_duration_seconds", "sfp_step_queue_wait_seconds"):
        buckets = sorted(
            (float(dict(key[1])["le"]), count)
            for key, count in samples.items()
            if key[0] == f"{histogram}_bucket" and dict(key[1]).get("workflow") == workflow.name
        )
        assert [count for _, count in buckets] == sorted(count for _, count in buckets)  # cumulative
        assert buckets[-1] == (math.inf, 3)


def test_a_reassigned_attempt_is_counted_as_a_reassignment(platform: Processes, client: Client) -> None:
    queue = unique("metrics-reassign")
    workflow = WorkflowDef(unique("m.reassign"), steps=(StepDef("only", "t:echo", queue=queue),))
    run_id = trigger(workflow)
    step = steps(run_id)["only"]
    assert lifecycle.claim(step.id, step.attempt, None, "gone") is not None
    assert lifecycle.reassign(step.id, step.attempt, "worker lost (test)")

    samples = scrape(client)

    labels = {"workflow": workflow.name, "pool": queue}  # no worker row: the queue names the pool
    assert value(samples, "sfp_step_reassignments", **labels) == 1
    assert value(samples, "sfp_step_attempts_finished", **labels, outcome="REASSIGNED") == 1
    assert value(samples, "sfp_step_duration_seconds_count", **labels) is None  # a lost attempt has no run time
    lifecycle.cancel_run(run_id)


# --- workers and the engine ---------------------------------------------------------------------------------


def test_worker_slots_busy_slots_and_liveness_are_reported_per_pool(platform: Processes, client: Client) -> None:
    run_id = trigger(WorkflowDef(unique("m.busy"), steps=(StepDef("slow", "t:slow"),)), {"seconds": 3})
    wait_until(lambda: steps(run_id)["slow"].status == "RUNNING", what="the slow step to run")
    silent = Worker.objects.create(
        name=unique("silent"),
        pool=unique("m-pool"),
        queues=[],
        hostname="nowhere",
        pid=1,
        slots=3,
        last_heartbeat=timezone.now() - timedelta(seconds=60),
    )

    samples = scrape(client)

    live = Worker.objects.filter(pool="standard", status=WorkerStatus.ACTIVE)
    assert value(samples, "sfp_worker_slots", pool="standard") == sum(w.slots for w in live) >= 4
    assert (value(samples, "sfp_worker_slots_busy", pool="standard") or 0) >= 1
    assert all(value(samples, "sfp_worker_up", worker=w.name, pool="standard") == 1 for w in live)
    ages = [
        value(samples, "sfp_worker_heartbeat_age_seconds", worker=w.name, pool="standard", status="ACTIVE")
        for w in live
    ]
    assert all(age is not None and age >= 0 for age in ages)

    # The scheduler declares the silent worker dead; it is still counted, as DEAD, and no longer up.
    def reported_dead() -> Samples | None:
        current = scrape(client)
        return current if value(current, "sfp_workers", pool=silent.pool, status="DEAD") == 1 else None

    dead = wait_until(reported_dead, what="the silent worker to be reported dead")
    assert value(dead, "sfp_worker_up", worker=silent.name, pool=silent.pool) is None
    assert wait_for_run(run_id).status == "COMPLETED"
    silent.delete()


def test_the_drain_flag_is_reported(db_access: None, client: Client) -> None:
    drain.start()
    try:
        assert value(scrape(client), "sfp_engine_draining") == 1
    finally:
        drain.resume()
    assert value(scrape(client), "sfp_engine_draining") == 0


# --- cost ---------------------------------------------------------------------------------------------------

BIG_TABLES = ("engine_steprun", "engine_attempt", "engine_workflowrun")
# The windowed metrics filter on these (`>= now() - window`): a young test database has all its rows in the window,
# a server a year of history, so the test gives them a year's spread of values, as a server's ANALYZE would.
WINDOWED_COLUMNS = {"engine_attempt": ("started_at", "finished_at"), "engine_workflowrun": ("finished_at",)}


# And a server's mix of statuses: almost everything finished, a little queued, running or pending.
_FINISHED_MOSTLY = (("COMPLETED", "FAILED", "CANCELLED", "QUEUED", "RUNNING"), [0.95, 0.03, 0.01, 0.005, 0.005])
SERVER_STATUSES: dict[str, dict[str, tuple[tuple[str, ...], list[float]]]] = {
    "engine_workflowrun": {"status": _FINISHED_MOSTLY},
    "engine_steprun": {
        "status": (
            ("COMPLETED", "FAILED", "CANCELLED", "PENDING", "QUEUED", "RUNNING"),
            [0.94, 0.03, 0.01] + [0.005] * 3,
        )
    },
}


def _a_year_of_history(cursor: Any, table: str, column: str) -> None:
    cursor.execute(
        "SELECT pg_restore_attribute_stats('schemaname', 'public', 'relname', %s, 'attname', %s, "
        "'inherited', false, 'null_frac', 0.0::real, 'n_distinct', -1.0::real, "
        "'histogram_bounds', (SELECT array_agg(now() - make_interval(days => 365 - 365 * i / 100) - interval '1 hour'"
        " ORDER BY i)::text FROM generate_series(0, 100) i))",
        [table, column],
    )


INDEX_SCANS = ("Index Scan", "Index Only Scan", "Bitmap Index Scan")


def scans(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from scans(child)


def unbounded_reads(plan: dict[str, Any], partial_indexes: set[str]) -> list[str]:
    """Scans of the engine's big tables that read all of a table or all of an index."""
    found = []
    for node in scans(plan):
        if node["Node Type"] == "Seq Scan" and node["Relation Name"] in BIG_TABLES:
            found.append(f"Seq Scan on {node['Relation Name']}")
        bounded = "Index Cond" in node or node.get("Index Name") in partial_indexes
        if node["Node Type"] in INDEX_SCANS and node.get("Index Name") in big_table_indexes() and not bounded:
            found.append(f"{node['Node Type']} of all of {node['Index Name']}")
    return found


def big_table_indexes() -> set[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s)", [list(BIG_TABLES)])
        return {row[0] for row in cursor.fetchall()}


def test_no_metrics_query_reads_a_whole_engine_table_or_index(db_access: None) -> None:
    """With full reads priced out (sequential scans, and the merge and hash joins that read a whole side),
    the planner still picks one only where no index serves the query. On tables this small it would not
    bother; on a production-sized table these are the plans it needs."""
    from sfpserver.monitoring.metrics import DATABASE_COLLECTORS
    from sfpserver.monitoring.scrape import Scrape

    with CaptureQueriesContext(connection) as captured:
        for collector in DATABASE_COLLECTORS:
            collector(Scrape())
    assert len(captured.captured_queries) >= len(DATABASE_COLLECTORS)
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexname FROM pg_indexes WHERE tablename = ANY(%s) AND indexdef LIKE '%% WHERE %%'",
                       [list(BIG_TABLES)])  # fmt: skip
        partial = {row[0] for row in cursor.fetchall()}
        # Production-sized statistics (not whatever autovacuum gathered on these small tables by now), so the
        # plans do not depend on timing: PostgreSQL 18 lets a superuser set them.
        for table in BIG_TABLES if getattr(connection, "pg_version", 0) >= 180000 else ():
            cursor.execute(
                "SELECT pg_restore_relation_stats('schemaname', 'public', 'relname', %s, "
                "'relpages', 100000::integer, 'reltuples', 10000000::real)",
                [table],
            )
            for column in WINDOWED_COLUMNS.get(table, ()):
                _a_year_of_history(cursor, table, column)
            for column, (values, freqs) in SERVER_STATUSES.get(table, {}).items():
                cursor.execute(
                    "SELECT pg_restore_attribute_stats('schemaname', 'public', 'relname', %s, 'attname', %s, "
                    "'inherited', false, 'null_frac', 0.0::real, 'most_common_vals', %s::text, "
                    "'most_common_freqs', %s::real[])",
                    [table, column, "{" + ",".join(values) + "}", freqs],
                )
        cursor.execute("SET enable_seqscan = off; SET enable_mergejoin = off; SET enable_hashjoin = off")
        try:
            for query in captured.captured_queries:
                cursor.execute("EXPLAIN (FORMAT JSON) " + query["sql"])
                plan = cursor.fetchone()[0][0]["Plan"]
                assert unbounded_reads(plan, partial) == [], query["sql"]
        finally:
            cursor.execute("RESET enable_seqscan; RESET enable_mergejoin; RESET enable_hashjoin")
