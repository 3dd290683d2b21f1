"""The SDK facade's overhead: the same one-step no-op triggered and run through `sfpserver.hatchet`
(`run_many` of a standalone task, its code called through Context and output validation) against the engine
directly (`trigger_many` of a bare WorkflowDef), on the same worker node."""

from __future__ import annotations

import time
from collections.abc import Callable

from django.db.models import Max
from django.utils import timezone

from bench import workflows
from bench.measure import wait_until
from bench.results import Throughput, drain_timeout
from sfpserver.engine.models import TERMINAL_RUN_STATUSES, RunStatus, WorkflowRun
from sfpserver.engine.trigger import TriggerRequest, trigger_many


def _timed(name: str, count: int, start: Callable[[], object]) -> Throughput:
    started, began = timezone.now(), time.monotonic()
    start()
    runs = WorkflowRun.objects.filter(workflow_name=name, created_at__gte=started)
    wait_until(
        lambda: runs.filter(status__in=TERMINAL_RUN_STATUSES).count() >= count,
        timeout=drain_timeout(count),
        interval=0.1,
        what=f"{name} runs to finish",
    )
    ended = runs.aggregate(end=Max("finished_at"))["end"]
    seconds = (ended - started).total_seconds() if ended else time.monotonic() - began
    bad = runs.exclude(status=RunStatus.COMPLETED).count()
    return Throughput(count, seconds, f"{count} runs, {bad} not completed")


def measure(count: int) -> tuple[Throughput, Throughput]:
    engine = _timed(
        workflows.SINGLE, count, lambda: trigger_many([TriggerRequest(workflows.SINGLE) for _ in range(count)])
    )
    items = [workflows.sdk_noop.create_bulk_run_item() for _ in range(count)]
    sdk = _timed(workflows.SDK_SINGLE, count, lambda: workflows.sdk_noop.run_many(items, wait_for_result=False))
    return engine, sdk


def report(engine: Throughput, sdk: Throughput) -> None:
    print()
    print("SDK facade overhead (same no-op, same node)")
    print(f"  engine directly         {engine.rate:8.1f} runs/s   ({engine.detail}, {engine.seconds:.2f}s)")
    print(f"  through sfpserver.hatchet {sdk.rate:6.1f} runs/s   ({sdk.detail}, {sdk.seconds:.2f}s)")
    print(f"  ratio facade / engine   {sdk.rate / engine.rate:8.2f}")
