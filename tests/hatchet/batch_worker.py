"""An SDK worker with batch tasks, for tests/hatchet/test_batch.py: `python -m tests.hatchet.batch_worker NAME`.
Every batch call has an id of its own, so a test can tell which members ran together."""

from __future__ import annotations

import os
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

from pydantic import BaseModel

from sfpserver.hatchet import Context, Hatchet
from sfpserver.hatchet.batch import BatchMemberId

hatchet = Hatchet()
GATE = Path(os.environ.get("BATCH_GATE", "/tmp/batch-gate"))  # the gated batch waits while this file exists


class Word(BaseModel):
    word: str
    group: str | int = "one"


class Upper(BaseModel):
    upper: str
    size: int
    call: str
    keys: int = 1
    worker: str | None = None


class Total(BaseModel):
    letters: int
    call: str


def _upper(tasks: dict[BatchMemberId, Word], ctx: Context) -> dict[BatchMemberId, Upper]:
    call, keys = str(uuid.uuid4()), len({str(w.group) for w in tasks.values()})
    return {
        member: Upper(upper=w.word.upper(), size=len(tasks), call=call, keys=keys, worker=ctx.worker_id)
        for member, w in tasks.items()
    }


@hatchet.batch_task(
    name="BatchBySize", batch_max_size=3, batch_max_interval=timedelta(seconds=120), input_validator=Word
)
def by_size(tasks: dict[BatchMemberId, Word], ctx: Context) -> dict[BatchMemberId, Upper]:
    return _upper(tasks, ctx)


@hatchet.batch_task(
    name="BatchByTime", batch_max_size=50, batch_max_interval=timedelta(milliseconds=2500), input_validator=Word
)
async def by_time(tasks: dict[BatchMemberId, Word], ctx: Context) -> dict[BatchMemberId, Upper]:
    return _upper(tasks, ctx)


@hatchet.batch_task(
    name="BatchByKey",
    batch_max_size=2,
    batch_max_interval=timedelta(seconds=120),
    batch_group_key="input.group",
    input_validator=Word,
)
def by_key(tasks: dict[BatchMemberId, Word], ctx: Context) -> dict[BatchMemberId, Upper]:
    return _upper(tasks, ctx)


@hatchet.batch_task(
    name="BatchBroadcast",
    batch_max_size=4,
    batch_max_interval=timedelta(seconds=120),
    broadcast_output=True,
    input_validator=Word,
)
def broadcast(tasks: dict[BatchMemberId, Word], ctx: Context) -> Total:
    return Total(letters=sum(len(w.word) for w in tasks.values()), call=str(uuid.uuid4()))


@hatchet.batch_task(name="BatchForgetful", batch_max_size=2, batch_max_interval=timedelta(seconds=120))
def forgetful(tasks: dict[BatchMemberId, Word], ctx: Context) -> dict[BatchMemberId, dict[str, str]]:
    first = sorted(tasks)[0]
    return {first: {"kept": first}}


@hatchet.batch_task(
    name="BatchGated",
    batch_max_size=3,
    batch_max_interval=timedelta(seconds=120),
    execution_timeout=timedelta(seconds=120),
    input_validator=Word,
)
def gated(tasks: dict[BatchMemberId, Word], ctx: Context) -> dict[BatchMemberId, Upper]:
    while GATE.exists():
        time.sleep(0.05)
    return _upper(tasks, ctx)


# A batch task inside a workflow, after an ordinary task: each run's batch member gets its parent's output.
pipeline = hatchet.workflow(name="BatchPipeline", input_validator=Word)


@pipeline.task()
def prepare(input: Word, ctx: Context) -> dict[str, str]:
    return {"prepared": input.word * 2}


@pipeline.batch_task(
    name="shout",
    batch_max_size=2,
    batch_max_interval=timedelta(seconds=120),
    batch_group_key="input.group",
    parents=[prepare],
)
def shout(tasks: dict[BatchMemberId, Word], ctx: Context) -> dict[BatchMemberId, dict[str, object]]:
    prepared = ctx.task_output(prepare)["prepared"]  # the first member's parent (the batch's context)
    return {
        member: {"upper": w.word.upper(), "size": len(tasks), "seen": bool(prepared)} for member, w in tasks.items()
    }


ALL = [by_size, by_time, by_key, broadcast, forgetful, gated, pipeline]

if __name__ == "__main__":
    hatchet.worker(sys.argv[1], slots=4, workflows=ALL).start()
