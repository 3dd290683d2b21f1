"""Each side at its best: plain Celery as a Celery user would tune it against the durable engine as we would.

Plain Celery: the prefork pool, concurrency = the machine's cores, prefetch 4, acks_late, no-op tasks published
one by one with `delay()`. The durable engine: `DURABLE_BEST_PROCESSES` `python -m workers node` processes (each
with `DURABLE_BEST_CONCURRENCY` threads, prefetch `DURABLE_BEST_PREFETCH` and the group commit), no-op one-step
runs triggered one by one through `sfpserver.hatchet` (`run(wait_for_result=False)`) — what a script or a service
does. Same broker,
same Postgres, same cores; rounds interleaved (plain, then durable), every round printed, the median ratio the
figure. Throughput is end to end: from the first publish or trigger to the last finish, so what a trigger costs
counts, as it does for a user.

Beside it, what one trigger costs from one client, one by one and in bulk: Celery's `delay()` against the
SDK's `run(wait_for_result=False)`, the engine's `trigger()`, the SDK's `run_many` and the engine's
`trigger_many`.
"""

from __future__ import annotations

import os
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

import redis
from django.conf import settings
from django.db import connection
from django.db.models import Max
from django.utils import timezone

from bench import plain, plain_side, workflows
from bench.durable_side import wait_registered
from bench.measure import CommitCounter, wait_until
from bench.procs import Node, durable_node, plain_best_node
from bench.results import Throughput, drain_timeout, progress
from sfpserver.engine.models import TERMINAL_RUN_STATUSES, RunStatus, WorkflowRun
from sfpserver.engine.trigger import TriggerRequest, trigger, trigger_many

CORES = os.cpu_count() or 1
PLAIN_PREFETCH = 4
# The durable side's best on this 2-core machine, measured (BENCH_DURABLE_* to try others; README, "Bench"): one
# node of 8 threads beat a node per core (4 or 2 threads each) and 4 or 16 threads. A second node process splits
# the load in two, so each process's group commit batches half as much (1.85 commits per step against 0.5-0.7),
# and it competes for the cores with Postgres, Redis and the triggering client, which plain Celery does not have.
DURABLE_BEST_PROCESSES = int(os.environ.get("BENCH_DURABLE_PROCESSES", 1))
DURABLE_BEST_CONCURRENCY = int(os.environ.get("BENCH_DURABLE_CONCURRENCY", 8))
DURABLE_BEST_PREFETCH = int(os.environ.get("BENCH_DURABLE_PREFETCH", 4))
TARGET_RATIO = 0.6
TRIGGER_SAMPLE = 500
STATS_FLUSH = 1.5  # seconds for Postgres to publish the counts of backends that ended


@dataclass
class TriggerCosts:
    """Milliseconds per trigger from one client."""

    celery_delay: float
    sdk_run: float
    engine_trigger: float
    celery_bulk: float
    sdk_run_many: float
    engine_trigger_many: float


def measure(runs: int, rounds: int, env: dict[str, str]) -> list[tuple[Throughput, Throughput]]:
    pairs = []
    for number in range(1, rounds + 1):
        progress(f"at their best, round {number} of {rounds}: plain Celery (prefork), then the durable engine")
        pairs.append((_plain_round(runs, env), _durable_round(runs, env)))
    return pairs


def _plain_round(runs: int, env: dict[str, str]) -> Throughput:
    client = redis.Redis.from_url(settings.REDIS_URL)
    plain_side.reset(client)
    node = plain_best_node(plain.QUEUE, CORES, PLAIN_PREFETCH, env)
    try:
        plain_side.warm_up(client)
        published = time.time()
        for _ in range(runs):
            plain.noop.apply_async(queue=plain.QUEUE)
        publishing = time.time() - published
        wait_until(lambda: plain_side.done(client) >= runs, drain_timeout(runs), 0.01, "the prefork worker to drain")
    finally:
        node.stop()
    first, last = float(client.get(plain.FIRST_KEY) or 0), float(client.get(plain.LAST_KEY) or 0)
    client.close()
    detail = f"publishing one by one {publishing:.2f}s, first start → last finish {last - first:.2f}s"
    return Throughput(runs, last - published, detail, drain_seconds=last - first)


def _durable_nodes(env: dict[str, str]) -> list[Node]:
    nodes = [
        durable_node(workflows.QUEUE, DURABLE_BEST_CONCURRENCY, env, prefetch=DURABLE_BEST_PREFETCH, index=i)
        for i in range(DURABLE_BEST_PROCESSES)
    ]
    for node in nodes:
        wait_registered(node)
    return nodes


def _durable_round(runs: int, env: dict[str, str]) -> Throughput:
    nodes = _durable_nodes(env)
    counter = CommitCounter()
    try:
        workflows.sdk_noop.run(wait_for_result=True)  # warm: the definition and every node's first claim
        connection.close()  # Postgres counts a backend's commits when it ends (or has idled 10 s)
        time.sleep(STATS_FLUSH)
        before = counter.read()
        started = timezone.now()
        for _ in range(runs):
            workflows.sdk_noop.run(wait_for_result=False)
        triggering = (timezone.now() - started).total_seconds()
        result, own = _finished(workflows.SDK_SINGLE, runs, started, f"triggering one by one {triggering:.2f}s")
    finally:
        for node in nodes:
            node.stop()
    connection.close()
    time.sleep(STATS_FLUSH)
    commits = counter.read() - before - runs - own  # less each run's trigger and the bench's own reads
    counter.close()
    result.detail += f"; {commits / runs:.2f} commits per step (the triggers' own left out)"
    return result


def _finished(name: str, count: int, started: datetime, detail: str) -> tuple[Throughput, int]:
    """The runs' figures, and how many queries the bench made meanwhile (each its own commit)."""
    runs = WorkflowRun.objects.filter(workflow_name=name, created_at__gte=started)
    polls = 0

    def finished() -> bool:
        nonlocal polls
        polls += 1
        return runs.filter(status__in=TERMINAL_RUN_STATUSES).count() >= count

    wait_until(finished, drain_timeout(count), 0.1, f"{count} {name} runs to finish")
    ended = runs.aggregate(end=Max("finished_at"))["end"]
    bad = runs.exclude(status=RunStatus.COMPLETED).count()
    if bad:
        progress(f"WARNING: {bad} of {count} runs did not complete")
    first = runs.order_by("started_at").values_list("started_at", flat=True).first()
    drain = (ended - first).total_seconds() if first else None
    return Throughput(count, (ended - started).total_seconds(), detail, drain_seconds=drain), polls + 3


def trigger_costs(env: dict[str, str], count: int = TRIGGER_SAMPLE) -> TriggerCosts:
    """Per-trigger cost from one client, with no worker consuming meanwhile on either side (nothing else uses the
    CPU); the durable runs are drained afterwards by nodes started then, the plain messages dropped."""
    workflows.sdk_noop.run(wait_for_result=False)  # warm: the definition, the connections
    costs = TriggerCosts(
        celery_delay=_per_item(count, lambda: [plain.noop.apply_async(queue=plain.QUEUE) for _ in range(count)]),
        celery_bulk=_per_item(count, lambda: _celery_bulk(count)),
        sdk_run=_per_item(count, lambda: [workflows.sdk_noop.run(wait_for_result=False) for _ in range(count)]),
        engine_trigger=_per_item(count, lambda: [trigger(workflows.SINGLE) for _ in range(count)]),
        sdk_run_many=_per_item(count, lambda: _sdk_bulk(count)),
        engine_trigger_many=_per_item(
            count, lambda: trigger_many([TriggerRequest(workflows.SINGLE) for _ in range(count)])
        ),
    )
    client = redis.Redis.from_url(settings.REDIS_URL)
    plain_side.reset(client)
    client.close()
    nodes = _durable_nodes(env)
    try:
        _drained(workflows.SINGLE)
        _drained(workflows.SDK_SINGLE)
    finally:
        for node in nodes:
            node.stop()
    return costs


def _per_item(count: int, work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return (time.perf_counter() - began) * 1000 / count


def _celery_bulk(count: int) -> None:
    app = plain.app

    with app.producer_or_acquire() as producer:  # type: ignore[attr-defined]
        for _ in range(count):
            app.send_task(plain.TASK, queue=plain.QUEUE, producer=producer)


def _sdk_bulk(count: int) -> None:
    items = [workflows.sdk_noop.create_bulk_run_item() for _ in range(count)]
    workflows.sdk_noop.run_many(items, wait_for_result=False)


def _drained(name: str) -> None:
    unfinished = WorkflowRun.objects.filter(workflow_name=name).exclude(status__in=TERMINAL_RUN_STATUSES)
    wait_until(lambda: not unfinished.exists(), 300, 0.2, f"the {name} runs to drain")


# --- the report -----------------------------------------------------------------------------------------------


def report(pairs: list[tuple[Throughput, Throughput]], costs: TriggerCosts) -> None:
    indent = " " * 26
    print()
    print("at their best (end to end: the first publish or trigger, one by one, to the last finish)")
    print(f"  plain Celery            --pool prefork --concurrency {CORES} --prefetch-multiplier {PLAIN_PREFETCH},")
    print(f"{indent}acks_late, published with delay()")
    print(
        f"  durable engine          {DURABLE_BEST_PROCESSES} x `workers node --concurrency "
        f"{DURABLE_BEST_CONCURRENCY} --prefetch {DURABLE_BEST_PREFETCH}`, group commit on,"
    )
    print(f"{indent}triggered with sfpserver.hatchet run(wait_for_result=False)")
    print("  rounds                  plain /s, durable /s, ratio | drain only (first start → last finish)")
    for number, (plain_round, durable_round) in enumerate(pairs, 1):
        print(
            f"{indent}{number}: {plain_round.rate:7.1f} {durable_round.rate:7.1f} "
            f"{durable_round.rate / plain_round.rate:5.2f} | {plain_round.drain_rate:7.1f} "
            f"{durable_round.drain_rate:7.1f} {durable_round.drain_rate / plain_round.drain_rate:5.2f}"
        )
        print(f"{indent}   plain: {plain_round.detail}; durable: {durable_round.detail}")
    ratio = statistics.median(d.rate / p.rate for p, d in pairs)
    met = "met" if ratio >= TARGET_RATIO else "MISSED"
    print(f"  ratio at their best     {ratio:8.2f}           target >= {TARGET_RATIO:.2f}: {met} (median round)")
    print()
    print("one trigger from one client (ms each; runs/s in brackets)")
    for label, value in (
        ("Celery delay()", costs.celery_delay),
        ("SDK run(no wait)", costs.sdk_run),
        ("engine trigger()", costs.engine_trigger),
        ("Celery, one producer", costs.celery_bulk),
        ("SDK run_many", costs.sdk_run_many),
        ("engine trigger_many", costs.engine_trigger_many),
    ):
        print(f"  {label:22}  {value:8.3f} ms   ({1000 / value:8.0f}/s)")
    print(f"{indent}SDK run / Celery delay: {costs.sdk_run / costs.celery_delay:.1f} times the cost (target: about 1)")
