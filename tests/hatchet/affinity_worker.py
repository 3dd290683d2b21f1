"""SDK workers for the affinity tests, started with their labels: `python -m tests.hatchet.affinity_worker NAME
key=value ...` (a value of digits is a number). Their workflows report the worker each task ran on."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from sfpserver.hatchet import Context, DesiredWorkerLabel, EmptyModel, Hatchet, StickyStrategy, WorkerLabelComparator

hatchet = Hatchet()
GATE = Path(os.environ.get("AFFINITY_GATE", "/tmp/affinity-gate"))  # a task waits while this file exists


def here(ctx: Context) -> dict[str, str | None]:
    return {"worker": ctx.worker_id}


@hatchet.task(name="AffinityEu", desired_worker_labels=[DesiredWorkerLabel(key="zone", value="eu", required=True)])
def in_eu(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


@hatchet.task(
    name="AffinityBigMemory",
    desired_worker_labels=[
        DesiredWorkerLabel(key="memory", value=1000, weight=10, comparator=WorkerLabelComparator.GREATER_THAN)
    ],
)
def big_memory(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


@hatchet.task(name="AffinityModel", desired_worker_labels=[DesiredWorkerLabel(key="model", value="v2", required=True)])
def needs_model(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


@hatchet.task(name="AffinityRelabel")
def relabel(input: EmptyModel, ctx: Context) -> dict[str, object]:
    ctx.upsert_worker_labels({"model": "v2"})
    return {"worker": ctx.worker_id, "labels": ctx.worker_labels}


# A DAG without labels of its own: the run's labels place every task.
runtime = hatchet.workflow(name="AffinityRuntime")


@runtime.task()
def root(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


@runtime.task(parents=[root])
def left(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


@runtime.task(parents=[root])
def right(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


@runtime.task(parents=[left, right])
def join(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


def _sticky_dag(name: str, strategy: StickyStrategy) -> Any:
    workflow = hatchet.workflow(name=name, sticky=strategy)

    @workflow.task()
    def one(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
        return here(ctx)

    @workflow.task()
    def two(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
        return here(ctx)

    @workflow.task(parents=[one, two])
    def waits(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
        while GATE.exists():
            time.sleep(0.05)
        return here(ctx)

    @workflow.task(parents=[waits])
    def after(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
        return here(ctx)

    return workflow


soft = _sticky_dag("AffinitySoft", StickyStrategy.SOFT)
hard = _sticky_dag("AffinityHard", StickyStrategy.HARD)
sticky_child = hatchet.workflow(name="AffinityStickyChild", sticky=StickyStrategy.SOFT)


@sticky_child.task()
def child(input: EmptyModel, ctx: Context) -> dict[str, str | None]:
    return here(ctx)


@hatchet.task(name="AffinitySpawner")
async def spawner(input: EmptyModel, ctx: Context) -> dict[str, object]:
    children = [await sticky_child.aio_run(sticky=True) for _ in range(4)]
    return {"worker": ctx.worker_id, "children": [c["child"]["worker"] for c in children]}


ALL = [in_eu, big_memory, needs_model, relabel, runtime, soft, hard, sticky_child, spawner]


def _labels(pairs: list[str]) -> dict[str, str | int]:
    labels: dict[str, str | int] = {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        labels[key] = int(value) if value.isdigit() else value
    return labels


if __name__ == "__main__":
    hatchet.worker(sys.argv[1], slots=4, labels=_labels(sys.argv[2:]), workflows=ALL).start()
