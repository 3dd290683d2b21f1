"""What a durable wait costs: an event push until the waiting task runs again (p50/p99), and 1,000 concurrent
sleeping durable tasks on one 4-slot worker (wall time, how late each woke, tasks per second).

    python -m bench.durable_waits [--waits 200] [--sleepers 1000] [--sleep 10]

Run alone, it starts its own embedded Postgres and Redis (ports 54369 / 63839, data under .local/bench-durable)
unless DATABASE_URL / REDIS_URL are set, a scheduler process (the timer that wakes sleeps) and an SDK worker
with 4 slots (this module with --worker). Latencies are read from Postgres timestamps (the event row's
created_at, the woken attempt's started_at), so polling adds nothing to them. It prints figures and asserts
nothing.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

PG_PORT, REDIS_PORT = 54369, 63839
SLOTS = 4
WAITS, SLEEPERS, SLEEP = 200, 1000, 10


def workflows() -> list[Any]:
    from pydantic import BaseModel

    from sfpserver.hatchet import DurableContext, Hatchet

    hatchet = Hatchet()

    class WaitInput(BaseModel):
        key: str

    class SleepInput(BaseModel):
        seconds: int

    @hatchet.durable_task(name="BenchDurableWaiter", execution_timeout=timedelta(seconds=60))
    async def waiter(input: WaitInput, ctx: DurableContext) -> dict[str, Any]:
        return {"payload": await ctx.aio_wait_for_event(input.key)}

    @hatchet.durable_task(name="BenchDurableSleeper", execution_timeout=timedelta(seconds=60))
    async def sleeper(input: SleepInput, ctx: DurableContext) -> dict[str, int]:
        await ctx.aio_sleep_for(timedelta(seconds=input.seconds))
        return {"slept": input.seconds}

    return [waiter, sleeper]


def serve() -> None:
    from sfpserver.hatchet import Hatchet

    Hatchet().worker("bench-durable-worker", slots=SLOTS, workflows=workflows()).start()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _wait_for(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out waiting for {what}")
        time.sleep(0.2)


def wake_latency(waits: int) -> list[float]:
    """Seconds from each event's push to its waiting task running again (its next attempt's start)."""
    from sfpserver.engine.models import Attempt, StepRun
    from sfpserver.hatchet import Hatchet
    from sfpserver.hatchet.models import Event

    waiter, _ = workflows()
    hatchet = Hatchet()
    keys = [f"bench-durable:{uuid.uuid4().hex}" for _ in range(waits)]
    refs = [waiter.run({"key": key}, wait_for_result=False) for key in keys]
    run_ids = [ref.workflow_run_id for ref in refs]
    waiting = StepRun.objects.filter(run_id__in=run_ids, waiting_for="event")
    _wait_for(lambda: waiting.count() == waits, 120, "every waiter to be evicted")
    for key in keys:
        hatchet.event.push(key, {"k": key})
        time.sleep(0.02)  # one at a time: the figure is a wait's cost, not a burst's
    for ref in refs:
        ref.result()
    pushed = dict(Event.objects.filter(key__in=keys).values_list("key", "created_at"))
    latencies = []
    for ref, key in zip(refs, keys, strict=True):
        woken = Attempt.objects.filter(step__run_id=ref.workflow_run_id, number=1).values_list("started_at", flat=True)
        latencies.append((woken[0] - pushed[key]).total_seconds())
    return latencies


def sleepers(count: int, seconds: int) -> dict[str, float]:
    """`count` durable tasks sleeping `seconds` at once on the 4-slot worker."""
    from sfpserver.engine.models import StepRun, StepWait
    from sfpserver.hatchet import TriggerWorkflowOptions

    _, sleeper = workflows()
    started = time.monotonic()
    refs = sleeper.run_many(
        [sleeper.create_bulk_run_item({"seconds": seconds}, options=TriggerWorkflowOptions()) for _ in range(count)],
        wait_for_result=False,
    )
    run_ids = [ref.workflow_run_id for ref in refs]
    peak = 0
    steps = StepRun.objects.filter(run_id__in=run_ids)
    while steps.exclude(status="COMPLETED").exists():
        peak = max(peak, steps.filter(waiting_for="sleep").count())
        time.sleep(0.5)
    wall = time.monotonic() - started
    rows = StepWait.objects.filter(step__run_id__in=run_ids).values_list("step__finished_at", "conditions")
    late = [
        (finished - datetime.fromisoformat(conditions[0]["deadline"])).total_seconds()
        for finished, conditions in rows
        if finished
    ]
    return {
        "wall": wall,
        "peak_waiting": peak,
        "late_p50": statistics.median(late),
        "late_p99": _pct(late, 0.99),
        "per_second": count / wall,
    }


def report(latencies: list[float], sleeping: dict[str, float], count: int, seconds: int) -> None:
    print()
    print("durable waits")
    print(
        f"  event push -> waiting task running again ({len(latencies)} waits, {SLOTS} slots):"
        f" p50 {statistics.median(latencies) * 1000:.0f} ms, p99 {_pct(latencies, 0.99) * 1000:.0f} ms"
    )
    print(
        f"  {count} durable tasks sleeping {seconds} s on one {SLOTS}-slot worker: all done in "
        f"{sleeping['wall']:.1f} s ({sleeping['per_second']:.0f} tasks/s), up to {sleeping['peak_waiting']:.0f} "
        f"waiting at once; woke {sleeping['late_p50']:.2f} s (p50) / {sleeping['late_p99']:.2f} s (p99) after "
        "their deadline (to completion)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.durable_waits", description=__doc__.splitlines()[0])
    parser.add_argument("--waits", type=int, default=WAITS)
    parser.add_argument("--sleepers", type=int, default=SLEEPERS)
    parser.add_argument("--sleep", type=int, default=SLEEP)
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    if options.worker:
        serve()
        return 0
    from config.embedded import ensure_services

    services = ensure_services("bench-durable", PG_PORT, REDIS_PORT)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        import django
        from django.core.management import call_command

        django.setup()
        call_command("migrate", verbosity=0, interactive=False)
        env = {**os.environ}
        procs.append(subprocess.Popen([sys.executable, "-m", "workers", "scheduler"], cwd=ROOT, env=env))
        procs.append(subprocess.Popen([sys.executable, "-m", "bench.durable_waits", "--worker"], cwd=ROOT, env=env))
        from sfpserver.engine.models import Worker

        _wait_for(lambda: Worker.objects.filter(name="bench-durable-worker", status="ACTIVE").exists(), 60, "worker")
        latencies = wake_latency(options.waits)
        report(latencies, sleepers(options.sleepers, options.sleep), options.sleepers, options.sleep)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=30)
        services.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
