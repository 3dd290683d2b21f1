"""What /metrics reads from Postgres. Every query is bounded: it reads the non-terminal rows through the
engine's partial indexes, the small worker table, or the rows of the last METRICS_WINDOW_SECONDS through
the indexes on Attempt.started_at / finished_at and WorkflowRun.finished_at.

Histograms and "finished" figures are windowed, not cumulative: they describe the attempts and runs that
ended (or started) within the window, computed by SQL on each scrape. They stay right across restarts of
any process and are identical on every API replica, so one scrape of any replica is the whole truth. Read
them as they are (`histogram_quantile(0.99, sum by (le) (sfp_step_duration_seconds_bucket))`), not with
`rate()`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from django.conf import settings
from django.db import connection

from sfpserver.engine import services as engine
from sfpserver.engine.services import LONG_RUNNING_QUEUE, STANDARD_QUEUE
from sfpserver.monitoring.scrape import Scrape

DURATION_BOUNDS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400)
WAIT_BOUNDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)
MEASURED_OUTCOMES = ("COMPLETED", "FAILED", "TIMED_OUT")  # attempts whose code ran to an end of its own
QUEUED_STATES = ("ready", "delayed", "gated")
WINDOW_SQL = "now() - make_interval(secs => %(window)s)"


def _rows(sql: str, params: dict[str, Any] | None = None) -> list[tuple[Any, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, {"window": settings.METRICS_WINDOW_SECONDS, **(params or {})})
        return list(cursor.fetchall())


def _buckets(expression: str, bounds: Sequence[float]) -> str:
    return ", ".join(f"count(*) FILTER (WHERE {expression} <= {float(bound)!r})" for bound in bounds)


# --- engine state -----------------------------------------------------------------------------------------


def engine_state(scrape: Scrape) -> None:
    rows = _rows("SELECT draining, extract(epoch FROM now() - drain_started_at) FROM engine_enginestate")
    draining, seconds = (bool(rows[0][0]), float(rows[0][1] or 0)) if rows else (False, 0.0)
    scrape.gauge("sfp_engine_draining", "1 while a drain holds every new step back (manage.py drain)").add(draining)
    scrape.gauge("sfp_engine_drain_seconds", "How long the current drain has lasted").add(seconds if draining else 0)


# --- workers ----------------------------------------------------------------------------------------------


def workers(scrape: Scrape) -> None:
    live = _rows(
        "SELECT name, pool, status, queues, slots, extract(epoch FROM now() - last_heartbeat)"
        "  FROM engine_worker WHERE status IN ('ACTIVE', 'PAUSED')"
    )
    gone = _rows(
        f"SELECT pool, status, count(*) FROM engine_worker"
        f" WHERE status IN ('DEAD', 'STOPPED') AND last_heartbeat >= {WINDOW_SQL} GROUP BY 1, 2"
    )
    busy = _rows(
        "SELECT w.pool, count(*) FROM engine_steprun s JOIN engine_worker w ON w.id = s.worker_id"
        " WHERE s.status = 'RUNNING' GROUP BY 1"
    )
    counts: dict[tuple[str, str], int] = defaultdict(int)
    slots: dict[str, int] = defaultdict(int)
    age = scrape.gauge("sfp_worker_heartbeat_age_seconds", "Seconds since each live worker's last heartbeat")
    up = scrape.gauge("sfp_worker_up", "1 while a worker heartbeats within ENGINE_WORKER_DEAD_AFTER, else 0")
    for name, pool, status, queues, worker_slots, seconds in live:
        counts[(pool, status)] += 1
        if status == "ACTIVE":
            slots[pool] += worker_slots
        scrape.queues.update(queues)
        age.add(seconds, {"worker": name, "pool": pool, "status": status})
        up.add(seconds < settings.ENGINE_WORKER_DEAD_AFTER, {"worker": name, "pool": pool})
    for pool, status, count in gone:
        counts[(pool, status)] += count
    family = scrape.gauge(
        "sfp_workers", "Workers by pool and status (DEAD and STOPPED: those last heard of within the window)"
    )
    for (pool, status), count in sorted(counts.items()):
        family.add(count, {"pool": pool, "status": status})
    busy_by_pool = dict(busy)
    total = scrape.gauge("sfp_worker_slots", "Step slots of the ACTIVE workers of each pool")
    used = scrape.gauge("sfp_worker_slots_busy", "Steps running on the workers of each pool")
    for pool in sorted(set(slots) | set(busy_by_pool)):
        total.add(slots.get(pool, 0), {"pool": pool})
        used.add(busy_by_pool.get(pool, 0), {"pool": pool})


# --- queues and steps -------------------------------------------------------------------------------------


def steps(scrape: Scrape) -> None:
    queued = engine.queue_depth_by_state()
    running = _rows("SELECT queue, count(*) FROM engine_steprun WHERE status = 'RUNNING' GROUP BY 1")
    pending = _rows(
        "SELECT s.queue, count(*) FROM engine_workflowrun r JOIN engine_steprun s ON s.run_id = r.id"
        " WHERE r.status IN ('QUEUED', 'RUNNING') AND s.status = 'PENDING' GROUP BY 1"
    )
    scrape.queues.update({STANDARD_QUEUE, LONG_RUNNING_QUEUE}, (row[0] for row in queued), (row[0] for row in running))
    depth: dict[tuple[str, str], int] = {(q, state): 0 for q in scrape.queues for state in QUEUED_STATES}
    by_status: dict[tuple[str, str], int] = {(q, s): 0 for q in scrape.queues for s in ("PENDING", "QUEUED", "RUNNING")}
    for queue, state, count in queued:
        depth[(queue, state)] = count
        by_status[(queue, "QUEUED")] += count
    for status, rows in (("RUNNING", running), ("PENDING", pending)):
        for queue, count in rows:
            by_status[(queue, status)] = count
    family = scrape.gauge(
        "sfp_queue_depth",
        "QUEUED steps per queue in Postgres: ready (due now), delayed (retry backoff), gated (concurrency/rate limit)",
    )
    for (queue, state), count in sorted(depth.items()):
        family.add(count, {"queue": queue, "state": state})
    family = scrape.gauge("sfp_steps", "Unfinished steps per queue and status")
    for (queue, status), count in sorted(by_status.items()):
        family.add(count, {"queue": queue, "status": status})


def runs(scrape: Scrape) -> None:
    active = _rows(
        "SELECT workflow_name, status, count(*) FROM engine_workflowrun"
        " WHERE status IN ('QUEUED', 'RUNNING') GROUP BY 1, 2"
    )
    finished = _rows(
        f"SELECT workflow_name, status, count(*) FROM engine_workflowrun"
        f" WHERE finished_at >= {WINDOW_SQL} GROUP BY 1, 2"
    )
    family = scrape.gauge("sfp_runs", "Unfinished runs per workflow and status")
    for workflow, status, count in sorted(active):
        family.add(count, {"workflow": workflow, "status": status})
    family = scrape.gauge("sfp_runs_finished", "Runs that finished within the window, per workflow and status")
    for workflow, status, count in sorted(finished):
        family.add(count, {"workflow": workflow, "status": status})


# --- attempts in the window ------------------------------------------------------------------------------

_ATTEMPT_LABELS = """
    JOIN engine_steprun s ON s.id = a.step_id
    JOIN engine_workflowrun r ON r.id = s.run_id
    LEFT JOIN engine_worker w ON w.id = a.worker_id
"""


def finished_attempts(scrape: Scrape) -> None:
    rows = _rows(
        f"""WITH a AS (
              SELECT r.workflow_name AS workflow, coalesce(w.pool, s.queue) AS pool, a.outcome,
                     extract(epoch FROM a.finished_at - a.started_at)::float8 AS seconds
                FROM engine_attempt a {_ATTEMPT_LABELS}
               WHERE a.finished_at >= {WINDOW_SQL})
            SELECT workflow, pool, outcome, count(*), coalesce(sum(seconds), 0), {_buckets("seconds", DURATION_BOUNDS)}
              FROM a GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"""
    )
    outcomes = scrape.gauge(
        "sfp_step_attempts_finished", "Step attempts that ended within the window, per workflow, pool and outcome"
    )
    reassigned = scrape.gauge(
        "sfp_step_reassignments", "Attempts re-queued within the window because their worker died"
    )
    durations: dict[tuple[str, str], list[float]] = {}
    for workflow, pool, outcome, count, total, *buckets in rows:
        labels = {"workflow": workflow, "pool": pool}
        outcomes.add(count, {**labels, "outcome": outcome})
        if outcome == "REASSIGNED":
            reassigned.add(count, labels)
        if outcome in MEASURED_OUTCOMES:
            sums = durations.setdefault((workflow, pool), [0.0] * (len(DURATION_BOUNDS) + 2))
            for index, value in enumerate([*buckets, count, total]):
                sums[index] += value
    family = scrape.histogram(
        "sfp_step_duration_seconds",
        "Run time of the step attempts (completed, failed, timed out) that ended within the window",
    )
    for (workflow, pool), sums in sorted(durations.items()):
        cumulative = [int(v) for v in sums[:-1]]
        family.add_histogram(DURATION_BOUNDS, cumulative, sums[-1], {"workflow": workflow, "pool": pool})


def started_attempts(scrape: Scrape) -> None:
    rows = _rows(
        f"""WITH a AS (
              SELECT r.workflow_name AS workflow, coalesce(w.pool, s.queue) AS pool, previous.outcome AS previous,
                     greatest(extract(epoch FROM a.started_at - a.available_at), 0)::float8 AS seconds
                FROM engine_attempt a {_ATTEMPT_LABELS}
                LEFT JOIN engine_attempt previous ON previous.step_id = a.step_id AND previous.number = a.number - 1
               WHERE a.started_at >= {WINDOW_SQL})
            SELECT workflow, pool, count(*) FILTER (WHERE previous IN ('FAILED', 'TIMED_OUT')),
                   count(seconds), coalesce(sum(seconds), 0), {_buckets("seconds", WAIT_BOUNDS)}
              FROM a GROUP BY 1, 2 ORDER BY 1, 2"""
    )
    retries = scrape.gauge(
        "sfp_step_retries", "Attempts started within the window that retry a failed or timed-out attempt"
    )
    waits = scrape.histogram(
        "sfp_step_queue_wait_seconds",
        "Time from when a step attempt could start (parents done, backoff over, admitted) to its start,"
        " for the attempts started within the window",
    )
    for workflow, pool, retried, count, total, *buckets in rows:
        labels = {"workflow": workflow, "pool": pool}
        retries.add(retried, labels)
        waits.add_histogram(WAIT_BOUNDS, [*buckets, count], total, labels)
