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


@hatchet.task(name="DurableQuick")
def quick(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"ran": "yes"}


@hatchet.durable_task(name="DurableEventWaiter", execution_timeout=timedelta(seconds=30))
async def durable_event_waiter(input: EventInput, ctx: DurableContext) -> dict[str, Any]:
    payload = await ctx.aio_wait_for_event(input.key, input.expression)
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


ALL = [
    durable_sleeper,
    durable_slot_sleeper,
    durable_busy_then_sleep,
    quick,
    durable_event_waiter,
    durable_or_waiter,
    durable_non_deterministic,
    durable_child,
    durable_spawner,
]

if __name__ == "__main__":
    hatchet.worker("sdk-durable-worker", slots=int(os.environ.get("DURABLE_SLOTS", "1")), workflows=ALL).start()
