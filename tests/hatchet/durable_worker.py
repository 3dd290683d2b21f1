"""The durable-task worker of tests/hatchet/test_durable.py, written as a Hatchet user writes one (one import line
apart); DURABLE_SLOTS sets its slots."""

from __future__ import annotations

import asyncio
import os
import uuid
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from sfpserver.hatchet import (
    Context,
    DurableContext,
    EmptyModel,
    EvictionPolicy,
    Hatchet,
    ParentCondition,
    SleepCondition,
    UserEventCondition,
    or_,
)

hatchet = Hatchet()


class SleepInput(BaseModel):
    seconds: int = 1


class EventInput(BaseModel):
    key: str
    expression: str | None = None
    sleep_seconds: int = 60


@hatchet.durable_task(name="DurableSleeper", execution_timeout=timedelta(seconds=30))
async def durable_sleeper(input: SleepInput, ctx: DurableContext) -> dict[str, Any]:
    slept = await ctx.aio_sleep_for(timedelta(seconds=input.seconds))
    return {"slept": int(slept.duration.total_seconds()), "retry_count": ctx.retry_count}


@hatchet.durable_task(
    name="DurableSlotSleeper",
    execution_timeout=timedelta(seconds=60),
    eviction_policy=EvictionPolicy(ttl=None, allow_capacity_eviction=False),
)
async def durable_slot_sleeper(input: SleepInput, ctx: DurableContext) -> dict[str, Any]:
    """Waits in its slot (no ttl): only a drain or a crash takes it out."""
    slept = await ctx.aio_sleep_for(timedelta(seconds=input.seconds))
    return {"slept": int(slept.duration.total_seconds()), "worker": ctx.worker_id}


@hatchet.durable_task(name="DurableBusyThenSleep", execution_timeout=timedelta(seconds=60))
async def durable_busy_then_sleep(input: SleepInput, ctx: DurableContext) -> dict[str, Any]:
    """Busy in plain code for `seconds` (a drain's timeout passes meanwhile), then a short durable sleep."""
    await asyncio.sleep(input.seconds)
    await ctx.aio_sleep_for(timedelta(seconds=1))
    return {"retry_count": ctx.retry_count}


@hatchet.durable_task(name="DurableTwoSleeps", execution_timeout=timedelta(seconds=30))
async def durable_two_sleeps(input: EmptyModel, ctx: DurableContext) -> dict[str, str]:
    started = await ctx.aio_now()
    await ctx.aio_sleep_for(timedelta(seconds=1))
    await ctx.aio_sleep_for(timedelta(seconds=1))
    return {"started": started.isoformat()}


@hatchet.task(name="DurableQuick")
def quick(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"ran": "yes"}


@hatchet.durable_task(name="DurableEventWaiter", execution_timeout=timedelta(seconds=30))
async def durable_event_waiter(input: EventInput, ctx: DurableContext) -> dict[str, Any]:
    payload = await ctx.aio_wait_for_event(input.key, input.expression)
    return {"payload": payload}


class ScopedInput(BaseModel):
    key: str
    scope: str


@hatchet.durable_task(name="DurableLookback", execution_timeout=timedelta(seconds=30))
async def durable_lookback(input: ScopedInput, ctx: DurableContext) -> dict[str, Any]:
    payload = await ctx.aio_wait_for_event(input.key, scope=input.scope, lookback_window=timedelta(minutes=1))
    return {"payload": payload}


@hatchet.durable_task(name="DurableOrWaiter", execution_timeout=timedelta(seconds=30))
async def durable_or_waiter(input: EventInput, ctx: DurableContext) -> dict[str, Any]:
    result = await ctx.aio_wait_for(
        uuid.uuid4().hex,  # Hatchet's examples make the signal key random: a replay must not mind
        or_(SleepCondition(timedelta(seconds=input.sleep_seconds)), UserEventCondition(event_key=input.key)),
    )
    return result


@hatchet.durable_task(name="DurableNonDeterministic", execution_timeout=timedelta(seconds=30), retries=2)
async def durable_non_deterministic(input: EmptyModel, ctx: DurableContext) -> dict[str, int]:
    await ctx.aio_sleep_for(timedelta(seconds=1 + ctx.retry_count))
    return {"retry_count": ctx.retry_count}


@hatchet.task(name="DurableChild")
def durable_child(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"token": uuid.uuid4().hex}


@hatchet.durable_task(name="DurableSpawner", execution_timeout=timedelta(seconds=30))
async def durable_spawner(input: SleepInput, ctx: DurableContext) -> dict[str, Any]:
    child = await durable_child.aio_run()
    await ctx.aio_sleep_for(timedelta(seconds=input.seconds))
    again = await durable_child.aio_run()
    return {"child": child, "again": again}


class BranchInput(BaseModel):
    delay: float
    label: str


@hatchet.task(name="DurableBranchChild", input_validator=BranchInput)
async def branch_child(input: BranchInput, ctx: Context) -> dict[str, str]:
    await asyncio.sleep(input.delay)
    return {"label": input.label, "token": uuid.uuid4().hex}


async def _branch(name: str, first_delay: float) -> list[dict[str, str]]:
    first = await branch_child.aio_run(BranchInput(delay=first_delay, label=f"{name}-first"))
    second = await branch_child.aio_run(BranchInput(delay=0.1, label=f"{name}-second"))
    return [first, second]


@hatchet.durable_task(name="DurableBranches", execution_timeout=timedelta(seconds=60))
async def durable_branches(input: EmptyModel, ctx: DurableContext) -> dict[str, Any]:
    a, b = await asyncio.gather(_branch("a", 2), _branch("b", 0.2))
    await ctx.aio_sleep_for(timedelta(seconds=1))
    return {"a": a, "b": b}


# A DAG with conditions (Hatchet's wait_for / skip_if / cancel_if).
class Number(BaseModel):
    n: int


conditions_dag = hatchet.workflow(name="DurableConditionsDag", input_validator=Number)


@conditions_dag.task()
def start(input: Number, ctx: Context) -> Number:
    return Number(n=input.n)


@conditions_dag.task(parents=[start], skip_if=[ParentCondition(parent=start, expression="output.n > 0")])
def skipped_when_positive(input: Number, ctx: Context) -> Number:
    return Number(n=1)


@conditions_dag.task(parents=[skipped_when_positive])
def after_skipped(input: Number, ctx: Context) -> Number:
    return Number(n=2)


@conditions_dag.task(parents=[start], wait_for=[SleepCondition(timedelta(seconds=2))])
def after_a_sleep(input: Number, ctx: Context) -> Number:
    return Number(n=3)


@conditions_dag.task(parents=[start, skipped_when_positive, after_a_sleep])
def summary(input: Number, ctx: Context) -> dict[str, Any]:
    return {
        "was_skipped": ctx.was_skipped(skipped_when_positive),
        "slept": ctx.task_output(after_a_sleep).n,
        "start": ctx.task_output(start).n,
    }


cancel_dag = hatchet.workflow(name="DurableCancelIfDag", input_validator=Number)


@cancel_dag.task()
def cancel_start(input: Number, ctx: Context) -> Number:
    return Number(n=input.n)


@cancel_dag.task(parents=[cancel_start], cancel_if=[ParentCondition(parent=cancel_start, expression="output.n > 1")])
def cancelled_when_big(input: Number, ctx: Context) -> Number:
    return Number(n=1)


@cancel_dag.task(parents=[cancelled_when_big])
def after_cancelled(input: Number, ctx: Context) -> Number:
    return Number(n=2)


gate_dag = hatchet.workflow(name="DurableEventGateDag")


@gate_dag.task()
def gate_start(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"started": "yes"}


@gate_dag.task(
    parents=[gate_start],
    wait_for=[UserEventCondition(event_key="durable-gate:go", expression="input.ok == true")],
    skip_if=[UserEventCondition(event_key="durable-gate:skip")],
    cancel_if=[SleepCondition(timedelta(seconds=20))],
)
def gated(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"gated": "ran"}


ALL = [
    durable_sleeper,
    durable_slot_sleeper,
    durable_busy_then_sleep,
    durable_two_sleeps,
    quick,
    durable_event_waiter,
    durable_lookback,
    durable_or_waiter,
    durable_non_deterministic,
    durable_child,
    durable_spawner,
    branch_child,
    durable_branches,
    conditions_dag,
    cancel_dag,
    gate_dag,
]

if __name__ == "__main__":
    hatchet.worker("sdk-durable-worker", slots=int(os.environ.get("DURABLE_SLOTS", "1")), workflows=ALL).start()
