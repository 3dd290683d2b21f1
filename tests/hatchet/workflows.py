"""Workflows written exactly as a Hatchet user writes them, apart from the one import line."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from pydantic import BaseModel

from sfpserver.hatchet import (
    ConcurrencyExpression,
    ConcurrencyLimitStrategy,
    Context,
    EmptyModel,
    Hatchet,
    NonRetryableException,
    RateLimit,
    Workflow,
)

hatchet = Hatchet()


class StepInput(BaseModel):
    value: int = 1
    fail_times: int = 0


class StepOutput(BaseModel):
    doubled: int


# A DAG: first -> (second, third) -> final
dag = hatchet.workflow(name="SdkDag", input_validator=StepInput)


@dag.task()
def first(input: StepInput, ctx: Context) -> StepOutput:
    return StepOutput(doubled=input.value * 2)


@dag.task(parents=[first])
def second(input: StepInput, ctx: Context) -> dict[str, int]:
    return {"plus_one": ctx.task_output(first).doubled + 1}


@dag.task(parents=[first])
async def third(input: StepInput, ctx: Context) -> dict[str, int]:
    await asyncio.sleep(0.05)
    return {"times_ten": ctx.task_output(first).doubled * 10}


@dag.task(parents=[second, third])
def final(input: StepInput, ctx: Context) -> dict[str, object]:
    return {
        "sum": ctx.task_output(second)["plus_one"] + ctx.task_output(third)["times_ten"],
        "retry_count": ctx.retry_count,
        "workflow_run_id": ctx.workflow_run_id,
    }


# Retries and failures
retrying = hatchet.workflow(name="SdkRetrying", input_validator=StepInput)


@retrying.task(retries=3)
def flaky(input: StepInput, ctx: Context) -> dict[str, int]:
    if ctx.retry_count < input.fail_times:
        raise RuntimeError(f"attempt {ctx.attempt_number} failed")
    return {"attempts": ctx.attempt_number, "max_attempts": ctx.max_attempts}


failing = hatchet.workflow(name="SdkFailing")


@failing.task(retries=1)
def always_fails(input: EmptyModel, ctx: Context) -> None:
    raise ValueError("this always fails")


non_retryable = hatchet.workflow(name="SdkNonRetryable")


@non_retryable.task(retries=3)
def refuses(input: EmptyModel, ctx: Context) -> None:
    raise NonRetryableException("will not retry")


@failing.task(parents=[always_fails])
def never_runs(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"ran": "yes"}


@failing.on_failure_task()
def report(input: EmptyModel, ctx: Context) -> dict[str, object]:
    error = ctx.get_task_run_error(always_fails)
    return {"failed": sorted(ctx.task_run_errors), "type": error.exc_type if error else None}


timeouts = hatchet.workflow(name="SdkTimeout")


@timeouts.task(execution_timeout=timedelta(seconds=1))
def too_slow(input: EmptyModel, ctx: Context) -> dict[str, str]:
    for _ in range(100):
        time.sleep(0.05)
    return {"finished": "unexpectedly"}


@timeouts.task(execution_timeout=timedelta(seconds=1))
def refreshes(input: EmptyModel, ctx: Context) -> dict[str, str]:
    ctx.refresh_timeout(timedelta(seconds=5))
    time.sleep(2)
    return {"refreshed": "yes"}


# Standalone tasks, sync and async
@hatchet.task(name="SdkDouble", input_validator=StepInput)
def double(input: StepInput, ctx: Context) -> StepOutput:
    return StepOutput(doubled=input.value * 2)


@hatchet.task(name="SdkBadOutput")
def bad_output(input: EmptyModel, ctx: Context) -> str:
    return "not a dict"  # Hatchet refuses: tasks return dicts, models or dataclasses


# Cancellation
cancellable = hatchet.workflow(name="SdkCancellable")


@cancellable.task(execution_timeout=timedelta(seconds=30))
def waits(input: EmptyModel, ctx: Context) -> dict[str, bool]:
    for _ in range(300):
        if ctx.is_cancelled:
            return {"noticed": True}
        time.sleep(0.05)
    return {"noticed": False}


@cancellable.task(execution_timeout=timedelta(seconds=30))
async def waits_async(input: EmptyModel, ctx: Context) -> dict[str, bool]:
    await asyncio.sleep(20)
    return {"slept": True}


self_cancel = hatchet.workflow(name="SdkSelfCancel")


@self_cancel.task()
def cancels_itself(input: EmptyModel, ctx: Context) -> dict[str, str]:
    ctx.cancel()
    return {"should": "not be stored"}


# Streaming and logs
@hatchet.task(name="SdkStreamer")
def streamer(input: EmptyModel, ctx: Context) -> dict[str, int]:
    for index in range(20):
        ctx.put_stream(f"chunk-{index:02d}")
        time.sleep(0.02)
    ctx.log({"done": True})
    return {"chunks": 20}


# Children
class ChildInput(BaseModel):
    n: int


@hatchet.task(name="SdkChild", input_validator=ChildInput)
def child(input: ChildInput, ctx: Context) -> dict[str, object]:
    return {"n": input.n, "parent": ctx.parent_workflow_run_id, "metadata": ctx.additional_metadata}


@hatchet.task(name="SdkParent", retries=1)
def parent(input: EmptyModel, ctx: Context) -> dict[str, object]:
    results = child.run_many([child.create_bulk_run_item(ChildInput(n=i)) for i in range(3)])
    keyed = child.run(ChildInput(n=99), child_key="the-one")
    if ctx.retry_count == 0:
        raise RuntimeError("fail once after spawning: the retry must reuse the children")
    return {"ns": [r["n"] for r in results], "keyed": keyed["n"]}


# Events
@hatchet.task(name="SdkOnEvent", on_events=["sdk:user:*"])
def on_event(input: EmptyModel, ctx: Context) -> dict[str, object]:
    return {"payload": input.model_dump(), "event_key": ctx.additional_metadata.get("hatchet__event_key")}


# Concurrency
class KeyedInput(BaseModel):
    group: str
    index: int = 0
    seconds: float = 0.5


@hatchet.task(
    name="SdkRoundRobin",
    input_validator=KeyedInput,
    concurrency=ConcurrencyExpression(
        expression="input.group", max_runs=1, limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN
    ),
)
def round_robin(input: KeyedInput, ctx: Context) -> dict[str, float]:
    started = time.time()
    time.sleep(input.seconds)
    return {"started": started, "finished": time.time()}


def _keyed(name: str, strategy: ConcurrencyLimitStrategy, max_runs: int = 1) -> Any:
    @hatchet.task(
        name=name,
        input_validator=KeyedInput,
        execution_timeout=timedelta(seconds=30),
        concurrency=ConcurrencyExpression(expression="input.group", max_runs=max_runs, limit_strategy=strategy),
    )
    def keyed(input: KeyedInput, ctx: Context) -> dict[str, float]:
        started = time.time()
        while time.time() - started < input.seconds and not ctx.is_cancelled:
            time.sleep(0.02)
        return {"started": started, "finished": time.time(), "index": input.index}

    return keyed


cancel_in_progress = _keyed("SdkCancelInProgress", ConcurrencyLimitStrategy.CANCEL_IN_PROGRESS)
cancel_newest = _keyed("SdkCancelNewest", ConcurrencyLimitStrategy.CANCEL_NEWEST)
except_newest = _keyed("SdkExceptNewest", ConcurrencyLimitStrategy.CANCEL_QUEUED_EXCEPT_NEWEST)
except_oldest = _keyed("SdkExceptOldest", ConcurrencyLimitStrategy.CANCEL_QUEUED_EXCEPT_OLDEST)

# Workflow-level concurrency: the slot is held for the whole run (both tasks).
serial_pipeline = hatchet.workflow(name="SdkSerialPipeline", input_validator=KeyedInput, concurrency=1)


@serial_pipeline.task()
def stage_one(input: KeyedInput, ctx: Context) -> dict[str, float]:
    started = time.time()
    time.sleep(input.seconds)
    return {"started": started}


@serial_pipeline.task(parents=[stage_one])
def stage_two(input: KeyedInput, ctx: Context) -> dict[str, float]:
    time.sleep(input.seconds)
    return {"finished": time.time()}


@hatchet.task(name="SdkRateLimited", rate_limits=[RateLimit(static_key="sdk-test-api", units=1)])
def rate_limited(input: EmptyModel, ctx: Context) -> dict[str, float]:
    return {"at": time.time()}


def block_or_continue(name: str, *, continue_on_failure: bool) -> Workflow[EmptyModel]:
    """The same DAG twice: lint fails for good; report (its child) reads the error; publish follows report;
    package runs beside lint; alert is the on-failure task. Only lint's `continue_on_failure` differs."""
    workflow = hatchet.workflow(name=name)

    @workflow.task(continue_on_failure=continue_on_failure)
    def lint(input: EmptyModel, ctx: Context) -> None:
        raise NonRetryableException("lint found 3 problems")

    @workflow.task()
    def package(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"packaged": True}

    @workflow.task(parents=[lint, package])
    def report(input: EmptyModel, ctx: Context) -> dict[str, object]:
        error = ctx.get_task_run_error(lint)
        try:
            ctx.task_output(lint)
            read = "an output"
        except ValueError as exc:
            read = str(exc)
        return {
            "failed": sorted(ctx.task_run_errors),
            "error": error.exc if error else None,
            "type": error.exc_type if error else None,
            "lint_output": read,
            "packaged": ctx.task_output(package)["packaged"],
        }

    @workflow.task(parents=[report])
    def publish(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"published": True}

    @workflow.on_failure_task()
    def alert(input: EmptyModel, ctx: Context) -> dict[str, bool]:
        return {"alerted": True}

    return workflow


blocking = block_or_continue("SdkBlockOnFailure", continue_on_failure=False)
continuing = block_or_continue("SdkContinueOnFailure", continue_on_failure=True)


ALL = [
    cancel_in_progress,
    cancel_newest,
    except_newest,
    except_oldest,
    serial_pipeline,
    rate_limited,
    dag,
    retrying,
    failing,
    non_retryable,
    timeouts,
    double,
    bad_output,
    cancellable,
    self_cancel,
    streamer,
    child,
    parent,
    on_event,
    round_robin,
    blocking,
    continuing,
]
