"""What /metrics reads from Postgres, through the engine's read models (services; their statements are in
sfpserver/engine/statements.py: this module holds no SQL). Every query is bounded: it reads the non-terminal
rows through the engine's partial indexes, the small worker table, or the rows of the last
METRICS_WINDOW_SECONDS through the indexes on Attempt.started_at / finished_at and WorkflowRun.finished_at.

Histograms and "finished" figures are windowed, not cumulative: they describe the attempts and runs that
ended (or started) within the window, computed by SQL on each scrape. They stay right across restarts of
any process and are identical on every API replica, so one scrape of any replica is the whole truth. Read
them as they are (`histogram_quantile(0.99, sum by (le) (sfp_step_duration_seconds_bucket))`), not with
`rate()`.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings

from sfpserver.engine import services as engine
from sfpserver.engine.services import LONG_RUNNING_QUEUE, STANDARD_QUEUE
from sfpserver.monitoring.scrape import Scrape

DURATION_BOUNDS = engine.STEP_DURATION_BOUNDS
WAIT_BOUNDS = engine.QUEUE_WAIT_BOUNDS
MEASURED_OUTCOMES = ("COMPLETED", "FAILED", "TIMED_OUT")  # attempts whose code ran to an end of its own
QUEUED_STATES = ("ready", "delayed", "gated")
STEP_STATES = ("PENDING", "QUEUED", "RUNNING", "WAITING")  # WAITING: durable tasks evicted at a wait
DURABLE_WAITS = ("sleep", "event", "condition")


# --- engine state -----------------------------------------------------------------------------------------


def engine_state(scrape: Scrape) -> None:
    rows = engine.drain_state()
    draining, seconds = (bool(rows[0]["draining"]), float(rows[0]["drain_seconds"] or 0)) if rows else (False, 0.0)
    scrape.gauge("sfp_engine_draining", "1 while a drain holds every new step back (manage.py drain)").add(draining)
    scrape.gauge("sfp_engine_drain_seconds", "How long the current drain has lasted").add(seconds if draining else 0)


# --- workers ----------------------------------------------------------------------------------------------


def workers(scrape: Scrape) -> None:
    live = engine.live_workers()
    gone = engine.workers_gone_within(settings.METRICS_WINDOW_SECONDS)
    busy = engine.running_steps_by_pool()
    counts: dict[tuple[str, str], int] = defaultdict(int)
    slots: dict[str, int] = defaultdict(int)
    age = scrape.gauge("sfp_worker_heartbeat_age_seconds", "Seconds since each live worker's last heartbeat")
    up = scrape.gauge("sfp_worker_up", "1 while a worker heartbeats within ENGINE_WORKER_DEAD_AFTER, else 0")
    for worker in live:
        name, pool, status, seconds = worker["name"], worker["pool"], worker["status"], worker["heartbeat_age"]
        counts[(pool, status)] += 1
        if status == "ACTIVE":
            slots[pool] += worker["slots"]
        scrape.queues.update(worker["queues"])
        age.add(seconds, {"worker": name, "pool": pool, "status": status})
        up.add(seconds < settings.ENGINE_WORKER_DEAD_AFTER, {"worker": name, "pool": pool})
    for row in gone:
        counts[(row["pool"], row["status"])] += row["workers"]
    family = scrape.gauge(
        "sfp_workers", "Workers by pool and status (DEAD and STOPPED: those last heard of within the window)"
    )
    for (pool, status), count in sorted(counts.items()):
        family.add(count, {"pool": pool, "status": status})
    busy_by_pool = {row["pool"]: row["steps"] for row in busy}
    total = scrape.gauge("sfp_worker_slots", "Step slots of the ACTIVE workers of each pool")
    used = scrape.gauge("sfp_worker_slots_busy", "Steps running on the workers of each pool")
    for pool in sorted(set(slots) | set(busy_by_pool)):
        total.add(slots.get(pool, 0), {"pool": pool})
        used.add(busy_by_pool.get(pool, 0), {"pool": pool})


# --- queues and steps -------------------------------------------------------------------------------------


def steps(scrape: Scrape) -> None:
    queued = engine.queue_depth_by_state()
    running = engine.running_steps_by_queue()
    pending = engine.pending_steps_by_queue()
    waiting = engine.durable_waiting_by_queue()
    scrape.queues.update(
        {STANDARD_QUEUE, LONG_RUNNING_QUEUE},
        (row[0] for row in queued),
        (row["queue"] for row in running),
        (row["queue"] for row in waiting),
    )
    depth: dict[tuple[str, str], int] = {(q, state): 0 for q in scrape.queues for state in QUEUED_STATES}
    by_status: dict[tuple[str, str], int] = {(q, s): 0 for q in scrape.queues for s in STEP_STATES}
    for queue, state, count in queued:
        depth[(queue, state)] = count
        by_status[(queue, "QUEUED")] += count
    for status, rows in (("RUNNING", running), ("PENDING", pending)):
        for row in rows:
            by_status[(row["queue"], status)] = row["steps"]
    on: dict[tuple[str, str], int] = {(q, w): 0 for q in scrape.queues for w in DURABLE_WAITS}
    for row in waiting:
        on[(row["queue"], row["waiting_on"])] = row["steps"]
        by_status[(row["queue"], "WAITING")] += row["steps"]
    family = scrape.gauge(
        "sfp_durable_waiting",
        "Durable tasks evicted at a wait, holding no slot, per queue and what they wait on (sleep, event, condition)",
    )
    for (queue, waiting_on), count in sorted(on.items()):
        family.add(count, {"queue": queue, "on": waiting_on})
    family = scrape.gauge(
        "sfp_queue_depth",
        "QUEUED steps per queue in Postgres: ready (due now), delayed (retry backoff), gated (concurrency/rate limit)",
    )
    for (queue, state), count in sorted(depth.items()):
        family.add(count, {"queue": queue, "state": state})
    family = scrape.gauge("sfp_steps", "Unfinished steps per queue and status (WAITING: durable, at a wait)")
    for (queue, status), count in sorted(by_status.items()):
        family.add(count, {"queue": queue, "status": status})


def runs(scrape: Scrape) -> None:
    active = engine.unfinished_runs_by_workflow()
    finished = engine.runs_finished_within(settings.METRICS_WINDOW_SECONDS)
    family = scrape.gauge("sfp_runs", "Unfinished runs per workflow and status")
    for workflow, status, count in sorted((row["workflow"], row["status"], row["runs"]) for row in active):
        family.add(count, {"workflow": workflow, "status": status})
    family = scrape.gauge("sfp_runs_finished", "Runs that finished within the window, per workflow and status")
    for workflow, status, count in sorted((row["workflow"], row["status"], row["runs"]) for row in finished):
        family.add(count, {"workflow": workflow, "status": status})


# --- attempts in the window ------------------------------------------------------------------------------


def finished_attempts(scrape: Scrape) -> None:
    rows = engine.attempts_finished_within(settings.METRICS_WINDOW_SECONDS)
    outcomes = scrape.gauge(
        "sfp_step_attempts_finished", "Step attempts that ended within the window, per workflow, pool and outcome"
    )
    reassigned = scrape.gauge(
        "sfp_step_reassignments", "Attempts re-queued within the window because their worker died"
    )
    durations: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        workflow, pool, outcome, count, total = (row[k] for k in ("workflow", "pool", "outcome", "attempts", "seconds"))
        labels = {"workflow": workflow, "pool": pool}
        outcomes.add(count, {**labels, "outcome": outcome})
        if outcome == "REASSIGNED":
            reassigned.add(count, labels)
        if outcome in MEASURED_OUTCOMES:
            sums = durations.setdefault((workflow, pool), [0.0] * (len(DURATION_BOUNDS) + 2))
            for index, value in enumerate([*row["buckets"], count, total]):
                sums[index] += value
    family = scrape.histogram(
        "sfp_step_duration_seconds",
        "Run time of the step attempts (completed, failed, timed out) that ended within the window",
    )
    for (workflow, pool), sums in sorted(durations.items()):
        cumulative = [int(v) for v in sums[:-1]]
        family.add_histogram(DURATION_BOUNDS, cumulative, sums[-1], {"workflow": workflow, "pool": pool})


def started_attempts(scrape: Scrape) -> None:
    rows = engine.attempts_started_within(settings.METRICS_WINDOW_SECONDS)
    retries = scrape.gauge(
        "sfp_step_retries", "Attempts started within the window that retry a failed or timed-out attempt"
    )
    waits = scrape.histogram(
        "sfp_step_queue_wait_seconds",
        "Time from when a step attempt could start (parents done, backoff over, admitted) to its start,"
        " for the attempts started within the window",
    )
    for row in rows:
        labels = {"workflow": row["workflow"], "pool": row["pool"]}
        retries.add(row["retries"], labels)
        waits.add_histogram(WAIT_BOUNDS, [*row["buckets"], row["attempts"]], row["seconds"], labels)
