"""Workflows of the SDK tests for dependency injection, workflow pause and idempotency, written as a Hatchet user
writes them (served by tests/hatchet/run_worker.py beside tests/hatchet/workflows.py)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import timedelta
from typing import Annotated, Any

from pydantic import BaseModel

from sfpserver.hatchet import Context, Depends, DurableContext, EmptyModel, Hatchet
from sfpserver.hatchet.idempotency import StatusBasedIdempotencyConfig, TTLBasedIdempotencyConfig

hatchet = Hatchet()

# --- dependency injection -------------------------------------------------------------------------------------

CLEANED_UP: list[str] = []  # in the worker process: the context managers exited, in order


def sync_provider(input: EmptyModel, ctx: Context) -> str:
    return f"sync:{ctx.task_name}"


async def async_provider(input: EmptyModel, ctx: Context) -> str:
    return f"async:{ctx.lifespan['resource']}"


@contextmanager
def sync_resource(input: EmptyModel, ctx: Context, base: Annotated[str, Depends(sync_provider)]) -> Iterator[str]:
    yield f"cm({base})"
    CLEANED_UP.append("sync_resource")


@asynccontextmanager
async def async_resource(
    input: EmptyModel, ctx: Context, base: Annotated[str, Depends(async_provider)]
) -> AsyncIterator[str]:
    yield f"acm({base})"
    CLEANED_UP.append("async_resource")


class Injected(BaseModel):
    sync_value: str
    async_value: str
    sync_cm: str
    async_cm: str
    input_value: str


def input_provider(input: EmptyModel, ctx: Context) -> str:
    return str((input.model_extra or {}).get("who", "nobody"))


def _injected(sync_value: str, async_value: str, sync_cm: str, async_cm: str, input_value: str) -> Injected:
    return Injected(
        sync_value=sync_value, async_value=async_value, sync_cm=sync_cm, async_cm=async_cm, input_value=input_value
    )


@hatchet.task(name="DiAsync")
async def di_async(
    input: EmptyModel,
    ctx: Context,
    sync_value: Annotated[str, Depends(sync_provider)],
    async_value: Annotated[str, Depends(async_provider)],
    sync_cm: Annotated[str, Depends(sync_resource)],
    async_cm: Annotated[str, Depends(async_resource)],
    input_value: Annotated[str, Depends(input_provider)],
) -> Injected:
    return _injected(sync_value, async_value, sync_cm, async_cm, input_value)


@hatchet.task(name="DiSync")
def di_sync(
    input: EmptyModel,
    ctx: Context,
    sync_value: Annotated[str, Depends(sync_provider)],
    async_value: Annotated[str, Depends(async_provider)],
    sync_cm: Annotated[str, Depends(sync_resource)],
    async_cm: Annotated[str, Depends(async_resource)],
    input_value: Annotated[str, Depends(input_provider)],
) -> Injected:
    return _injected(sync_value, async_value, sync_cm, async_cm, input_value)


@hatchet.durable_task(name="DiDurable")
async def di_durable(
    input: EmptyModel,
    ctx: DurableContext,
    sync_value: Annotated[str, Depends(sync_provider)],
    async_value: Annotated[str, Depends(async_provider)],
    sync_cm: Annotated[str, Depends(sync_resource)],
    async_cm: Annotated[str, Depends(async_resource)],
    input_value: Annotated[str, Depends(input_provider)],
) -> Injected:
    return _injected(sync_value, async_value, sync_cm, async_cm, input_value)


def cleanup_seen(input: EmptyModel, ctx: Context) -> list[str]:
    return list(CLEANED_UP)


@hatchet.task(name="DiCleanup")
def di_cleanup(input: EmptyModel, ctx: Context, seen: Annotated[list[str], Depends(cleanup_seen)]) -> dict[str, Any]:
    """What the earlier DI tasks of this worker process left in CLEANED_UP."""
    return {"cleaned_up": seen}


# --- workflow pause -------------------------------------------------------------------------------------------

pausable = hatchet.workflow(name="SdkPausable")


@pausable.task()
def pausable_step(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"run": ctx.workflow_run_id}


# --- idempotency ----------------------------------------------------------------------------------------------


IDEMPOTENT_EVENT = "sdk:idempotent"


class KeyedInput(BaseModel):
    id: str
    sleep: float = 0.0


@hatchet.task(
    name="SdkIdempotent",
    input_validator=KeyedInput,
    idempotency=TTLBasedIdempotencyConfig(key_expression="input.id", ttl=timedelta(seconds=2)),
    on_events=[IDEMPOTENT_EVENT],
)
def idempotent(input: KeyedInput, ctx: Context) -> dict[str, str]:
    return {"id": input.id}


@hatchet.task(
    name="SdkIdempotentByStatus",
    input_validator=KeyedInput,
    idempotency=StatusBasedIdempotencyConfig(key_expression="input.id", fallback_ttl=timedelta(minutes=5)),
)
async def idempotent_by_status(input: KeyedInput, ctx: Context) -> dict[str, str]:
    import asyncio

    await asyncio.sleep(input.sleep)
    return {"id": input.id}


FEATURES = [di_async, di_sync, di_durable, di_cleanup, pausable, idempotent, idempotent_by_status]
