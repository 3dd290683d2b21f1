"""The bench's phases. Each starts from a drained queue and returns what it measured."""

from __future__ import annotations

import os
import sys
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from pathlib import Path
from typing import Any
from uuid import UUID

import redis
from django.conf import settings
from django.db.models import Max, Min
from django.utils import timezone

from bench import cpu, plain, report, workflows
from bench.measure import CommitCounter, wait_until
from bench.procs import Node, durable_node, plain_node
from bench.run import Options
from sfpserver.engine.models import TERMINAL_RUN_STATUSES, RunStatus, StepRun, Worker, WorkerStatus, WorkflowRun
from sfpserver.engine.trigger import TriggerRequest, trigger, trigger_many

WARM_UP_RUNS = 20
LATENCY_POLL = 0.005
DRAIN_POLL = 0.1


@dataclass
class Throughput:
    count: int
    seconds: float  # the measured interval
    detail: str
    cpu: dict[str, float] = field(default_factory=dict)  # CPU ms per item, by process

    @property
    def rate(self) -> float:
        return self.count / self.seconds if self.seconds > 0 else float("nan")


@dataclass
class Commits:
    steps: int
    raw: int  # every commit in the engine's database during the window
    own: int  # the bench's own queries (polling for the end), not the engine's
    idle: int  # an idle interval of the same length: heartbeats (no scheduler runs)
    seconds: float

    @property
    def net(self) -> int:
        return self.raw - self.own - self.idle


def progress(message: str) -> None:
    print(f"... {message}", file=sys.stderr, flush=True)


def run_all(options: Options, pgdata: Path | None) -> None:
    """Every phase in turn; `pgdata` (an embedded server's) lets the report count Postgres's CPU time."""
    env = dict(os.environ)
    report.header(options)
    progress(f"plain Celery: {options.runs} pre-queued no-op messages")
    plain_result = plain_throughput(options, env)
    report.plain(plain_result)
    node = durable_node(workflows.QUEUE, options.concurrency, env)
    try:
        _wait_registered(node)
        _run_and_wait([TriggerRequest(workflows.SINGLE) for _ in range(WARM_UP_RUNS)])
        progress(f"trigger-to-start latency: {options.triggers} sequential triggers")
        starts = trigger_to_start(options.triggers)
        progress(f"hand-off latency: {options.chains} chains of {workflows.CHAIN_LENGTH} steps")
        handoffs = chain_handoffs(options.chains)
        progress(f"durable throughput: {options.runs} one-step runs (plus {options.settle:.0f}s waits for pg stats)")
        durable, commits = durable_throughput(options, node, pgdata)
    finally:
        node.stop()
    report.durable(durable, plain_result)
    report.latency(starts, handoffs, options)
    report.commits(commits)


# --- plain Celery ------------------------------------------------------------------------------------------


def plain_throughput(options: Options, env: dict[str, str]) -> Throughput:
    """N messages queued before the worker starts; timed from the first task's start to the last one's."""
    from config.celery import app

    client = redis.Redis.from_url(settings.REDIS_URL)
    client.delete(plain.DONE_KEY, plain.FIRST_KEY, plain.LAST_KEY)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(plain.QUEUE)  # type: ignore[attr-defined]
    with app.producer_or_acquire() as producer:  # type: ignore[attr-defined]
        for _ in range(options.runs):
            app.send_task(plain.TASK, queue=plain.QUEUE, producer=producer)
    node = plain_node(plain.QUEUE, options.concurrency, env)
    try:
        started = wait_until(lambda: _done(client), timeout=90, interval=0.002, what="the plain worker to start")
        cpu_started = cpu.process_seconds(node.proc.pid)
        wait_until(
            lambda: _done(client) >= options.runs,
            timeout=_drain_timeout(options.runs),
            interval=0.01,
            what="the plain Celery worker to drain its queue",
        )
        cpu_used = cpu.process_seconds(node.proc.pid) - cpu_started
    finally:
        node.stop()
    first, last = float(client.get(plain.FIRST_KEY) or 0), float(client.get(plain.LAST_KEY) or 0)
    client.close()
    detail = f"{options.runs} pre-queued messages, first start → last"
    return Throughput(options.runs, last - first, detail, {"worker": cpu_used * 1000 / (options.runs - started)})


def _done(client: redis.Redis) -> int:
    return int(client.get(plain.DONE_KEY) or 0)


def _drain_timeout(count: int) -> float:
    return 60.0 + count / 10


# --- the durable engine ------------------------------------------------------------------------------------


def _wait_registered(node: Node) -> None:
    def ready() -> bool:
        if not node.alive():
            raise RuntimeError(f"worker node {node.name} exited with code {node.proc.returncode}")
        return Worker.objects.filter(name=node.name, status=WorkerStatus.ACTIVE).exists()

    wait_until(ready, timeout=90, interval=0.1, what=f"worker {node.name} to register")


def _wait_run(run_id: UUID) -> None:
    finished = WorkflowRun.objects.filter(id=run_id, status__in=TERMINAL_RUN_STATUSES)
    wait_until(finished.exists, timeout=60, interval=LATENCY_POLL, what=f"run {run_id} to finish")


def _run_and_wait(requests: list[TriggerRequest]) -> list[UUID]:
    run_ids = trigger_many(requests)
    for run_id in run_ids:
        _wait_run(run_id)
    return run_ids


def _warn_unless_completed(run_ids: list[UUID]) -> None:
    bad = WorkflowRun.objects.filter(id__in=run_ids).exclude(status=RunStatus.COMPLETED).count()
    if bad:
        progress(f"WARNING: {bad} of {len(run_ids)} runs did not complete")


def ms(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds() * 1000


def trigger_to_start(count: int) -> list[float]:
    """One trigger at a time: run.created_at (recorded at trigger) to its step's started_at (at claim)."""
    run_ids = []
    for _ in range(count):
        run_id = trigger(workflows.SINGLE)
        _wait_run(run_id)
        run_ids.append(run_id)
    _warn_unless_completed(run_ids)
    rows = StepRun.objects.filter(run_id__in=run_ids).values_list("run__created_at", "started_at")
    return [ms(created, started) for created, started in rows if started is not None]


def chain_handoffs(count: int) -> list[float]:
    """In each 10-step chain: a step's started_at minus its parent's finished_at."""
    run_ids = []
    for _ in range(count):
        run_id = trigger(workflows.CHAIN)
        _wait_run(run_id)
        run_ids.append(run_id)
    _warn_unless_completed(run_ids)
    by_run: dict[UUID, dict[str, tuple[Any, Any]]] = defaultdict(dict)
    for run_id, name, started, finished in StepRun.objects.filter(run_id__in=run_ids).values_list(
        "run_id", "name", "started_at", "finished_at"
    ):
        by_run[run_id][name] = (started, finished)
    names = workflows.chain_step_names()
    return [ms(steps[parent][1], steps[child][0]) for steps in by_run.values() for parent, child in pairwise(names)]


def durable_throughput(options: Options, node: Node, pgdata: Path | None) -> tuple[Throughput, Commits]:
    """N one-step runs created by one trigger_many, timed until the last run is COMPLETED; with the commits
    Postgres counted meanwhile, and during an idle interval of the same length."""
    counter = CommitCounter()
    postmaster = cpu.postmaster_pid(pgdata) if pgdata else None
    try:
        time.sleep(options.settle)
        before, window = counter.read(), time.monotonic()
        cpu_before = cpu.Snapshot.take(node.proc.pid, postmaster)
        result, own = _durable_drain(options.runs)
        result.cpu = cpu_before.per_item_ms(cpu.Snapshot.take(node.proc.pid, postmaster), options.runs)
        time.sleep(options.settle)
        after, seconds = counter.read(), time.monotonic() - window
        time.sleep(seconds)
        idle = counter.read() - after
    finally:
        counter.close()
    return result, Commits(options.runs, after - before, own, idle, seconds)


def _durable_drain(count: int) -> tuple[Throughput, int]:
    started = timezone.now()
    trigger_many([TriggerRequest(workflows.SINGLE) for _ in range(count)])
    triggered = timezone.now()
    runs = WorkflowRun.objects.filter(workflow_name=workflows.SINGLE, created_at__gte=started)
    polls = 0

    def drained() -> bool:
        nonlocal polls
        polls += 1
        return runs.filter(status__in=TERMINAL_RUN_STATUSES).count() >= count

    wait_until(drained, timeout=_drain_timeout(count), interval=DRAIN_POLL, what="the durable runs to finish")
    ended = runs.aggregate(end=Max("finished_at"))["end"]
    first_start = StepRun.objects.filter(run__in=runs).aggregate(first=Min("started_at"))["first"]
    bad = runs.exclude(status=RunStatus.COMPLETED).count()
    if bad:
        progress(f"WARNING: {bad} of {count} runs did not complete")
    detail = (
        f"trigger_many {ms(started, triggered) / 1000:.2f}s, then first step start → last run COMPLETED "
        f"{ms(first_start, ended) / 1000:.2f}s"
    )
    return Throughput(count, ms(started, ended) / 1000, detail), polls + 3
