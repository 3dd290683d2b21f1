"""The durable engine's figures, on one `python -m workers node` process: trigger-to-start and hand-off latency,
then throughput of one-step runs with the Postgres commits they cost."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Max, Min
from django.utils import timezone

from bench import cpu, workflows
from bench.measure import CommitCounter, wait_until
from bench.procs import Node
from bench.results import Commits, Throughput, drain_timeout, ms, progress
from bench.run import Options
from sfpserver.engine.models import TERMINAL_RUN_STATUSES, RunStatus, StepRun, Worker, WorkerStatus, WorkflowRun
from sfpserver.engine.trigger import TriggerRequest, trigger, trigger_many

LATENCY_POLL = 0.005
DRAIN_POLL = 0.1
QUIET_COMMITS_PER_SECOND = 5

_FORGET_SQL = """
DELETE FROM engine_runevent WHERE run_id IN (SELECT id FROM engine_workflowrun WHERE workflow_name LIKE 'bench.%');
DELETE FROM engine_attempt WHERE step_id IN (
    SELECT s.id FROM engine_steprun s JOIN engine_workflowrun r ON r.id = s.run_id
     WHERE r.workflow_name LIKE 'bench.%');
DELETE FROM engine_steprun WHERE run_id IN (SELECT id FROM engine_workflowrun WHERE workflow_name LIKE 'bench.%');
DELETE FROM engine_workflowrun WHERE workflow_name LIKE 'bench.%';
DELETE FROM engine_worker WHERE name LIKE 'bench.%' AND status = 'STOPPED';
"""


def forget_old_runs() -> None:
    """Every bench starts from the same tables: the runs and stopped workers of earlier benches are deleted."""
    with connection.cursor() as cursor:
        cursor.execute(_FORGET_SQL)
        cursor.execute("VACUUM ANALYZE engine_workflowrun, engine_steprun, engine_attempt")


def wait_registered(node: Node) -> None:
    def ready() -> bool:
        if not node.alive():
            raise RuntimeError(f"worker node {node.name} exited with code {node.proc.returncode}; see {node.log}")
        return Worker.objects.filter(name=node.name, status=WorkerStatus.ACTIVE).exists()

    wait_until(ready, timeout=90, interval=0.1, what=f"worker {node.name} to register")


def _wait_run(run_id: UUID) -> None:
    finished = WorkflowRun.objects.filter(id=run_id, status__in=TERMINAL_RUN_STATUSES)
    wait_until(finished.exists, timeout=60, interval=LATENCY_POLL, what=f"run {run_id} to finish")


def run_one_at_a_time(workflow: str, count: int) -> list[UUID]:
    run_ids = []
    for _ in range(count):
        run_id = trigger(workflow)
        _wait_run(run_id)
        run_ids.append(run_id)
    bad = WorkflowRun.objects.filter(id__in=run_ids).exclude(status=RunStatus.COMPLETED).count()
    if bad:
        progress(f"WARNING: {bad} of {count} {workflow} runs did not complete")
    return run_ids


def trigger_to_start(count: int) -> list[float]:
    """One trigger at a time: run.created_at (recorded at trigger) to its step's started_at (at claim)."""
    run_ids = run_one_at_a_time(workflows.SINGLE, count)
    rows = StepRun.objects.filter(run_id__in=run_ids).values_list("run__created_at", "started_at")
    return [ms(created, started) for created, started in rows if started is not None]


@dataclass
class HandOffs:
    """Per hand-off in the chains: child code start - parent code start (as the plain Celery hop is timed), and
    from Postgres's timestamps, child started_at - parent finished_at."""

    code: list[float]
    database: list[float]


def chain_handoffs(count: int) -> HandOffs:
    run_ids = run_one_at_a_time(workflows.CHAIN, count)
    by_run: dict[UUID, dict[str, tuple[Any, Any, Any]]] = defaultdict(dict)
    fields = ("run_id", "name", "started_at", "finished_at", "output")
    rows = StepRun.objects.filter(run_id__in=run_ids).values_list(*fields)
    for run_id, name, started, finished, output in rows:
        by_run[run_id][name] = (started, finished, (output or {}).get("started"))
    names = workflows.chain_step_names()
    result = HandOffs([], [])
    for steps in by_run.values():
        for parent, child in pairwise(names):
            result.database.append(ms(steps[parent][1], steps[child][0]))
            if steps[parent][2] is not None and steps[child][2] is not None:
                result.code.append((steps[child][2] - steps[parent][2]) * 1000)
    return result


def throughput(options: Options, node: Node, pgdata: Path | None) -> tuple[Throughput, Commits]:
    """N one-step runs created by one trigger_many, timed until the last run is COMPLETED; with the commits
    Postgres counted meanwhile, and during an idle interval of the same length."""
    counter = CommitCounter()
    postmaster = cpu.postmaster_pid(pgdata) if pgdata else None
    try:
        time.sleep(options.settle)
        before, window = counter.read(), time.monotonic()
        cpu_before = cpu.Snapshot.take(node.proc.pid, postmaster)
        result, own = drain(options.runs)
        _wait_for_quiet(counter)  # the CPU figures include what the runs set off after their commits
        result.cpu = cpu_before.per_item_ms(cpu.Snapshot.take(node.proc.pid, postmaster), options.runs)
        time.sleep(options.settle)
        window_reads = counter.reads  # `before` and the quiet checks; the read of `after` lands in the idle one
        after, seconds = counter.read(), time.monotonic() - window
        time.sleep(seconds)
        idle = counter.read() - after
    finally:
        counter.close()
    cost = counter.cost_per_read  # 0 unless the counter has to read in the database it counts
    return result, Commits(options.runs, after - before, own + cost * window_reads, idle - cost, seconds)


def _wait_for_quiet(counter: CommitCounter, limit: float = 120.0) -> None:
    """Wait until what the runs set off after their commits (e.g. the live feed's reads) is done too: two
    seconds in a row with no more commits than a heartbeat makes."""
    deadline, quiet, last = time.monotonic() + limit, 0, counter.read()
    while quiet < 2 and time.monotonic() < deadline:
        time.sleep(1.0)
        now = counter.read()
        quiet = quiet + 1 if now - last <= QUIET_COMMITS_PER_SECOND else 0
        last = now


def drain(count: int) -> tuple[Throughput, int]:
    """Returns the figures and how many queries the bench itself made meanwhile (each one a commit)."""
    started = timezone.now()
    trigger_many([TriggerRequest(workflows.SINGLE) for _ in range(count)])
    triggered = timezone.now()
    runs = WorkflowRun.objects.filter(workflow_name=workflows.SINGLE, created_at__gte=started)
    polls = 0

    def drained() -> bool:
        nonlocal polls
        polls += 1
        return runs.filter(status__in=TERMINAL_RUN_STATUSES).count() >= count

    wait_until(drained, timeout=drain_timeout(count), interval=DRAIN_POLL, what="the durable runs to finish")
    ended = runs.aggregate(end=Max("finished_at"))["end"]
    first_start = StepRun.objects.filter(run__in=runs).aggregate(first=Min("started_at"))["first"]
    bad = runs.exclude(status=RunStatus.COMPLETED).count()
    if bad:
        progress(f"WARNING: {bad} of {count} runs did not complete")
    drain = ms(first_start, ended) / 1000
    detail = f"trigger_many {ms(started, triggered) / 1000:.2f}s, first step start → last COMPLETED {drain:.2f}s"
    return Throughput(count, ms(started, ended) / 1000, detail, drain_seconds=drain), polls + 3
