"""Workflows of the names/bugs tests (tests/hatchet/test_names_live.py), written as a Hatchet user writes them
apart from the one import line; served by tests/hatchet/names_worker.py."""

from __future__ import annotations

import base64
import logging
import time
import zlib
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, PlainSerializer, ValidationInfo, model_validator

from sfpserver.hatchet import ClientConfig, Context, EmptyModel, Hatchet
from sfpserver.hatchet.runnables.contextvars import ctx_action_key, workflow_spawn_indices
from sfpserver.hatchet.serde import is_in_hatchet_serialization_context

hatchet = Hatchet(config=ClientConfig(logger=logging.getLogger("names.tasks")))
namespaced = Hatchet(config=ClientConfig(namespace="Names-NS"))
task_logger = logging.getLogger("names.tasks")
task_logger.setLevel(logging.INFO)


class ChildInput(BaseModel):
    n: int


@hatchet.task(name="NamesChild", input_validator=ChildInput)
def names_child(input: ChildInput, ctx: Context) -> dict[str, int]:
    return {"n": input.n}


fan_out = hatchet.workflow(name="NamesFanOut")


@fan_out.task()
def spawn(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    names_child.run_many([names_child.create_bulk_run_item(ChildInput(n=n)) for n in range(3)])
    return {"spawned": 3, "step": ctx.task_run_id}


@hatchet.task(name="NamesSpawnCount")
def spawn_count(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    names_child.run(ChildInput(n=1))
    names_child.run(ChildInput(n=2))
    key = ctx_action_key.get()
    return {"key": key, "spawned": workflow_spawn_indices[key or ""], "task_run_id": ctx.task_run_id}


@hatchet.task(name="NamesRetriedOnce", retries=2)
def retried_once(input: EmptyModel, ctx: Context) -> dict[str, int]:
    if ctx.retry_count == 0:
        raise RuntimeError("the first attempt fails")
    return {"attempt": ctx.attempt_number}


class GateInput(BaseModel):
    gate: str


gated_dag = hatchet.workflow(name="NamesGatedDag", input_validator=GateInput)


@gated_dag.task()
def opener(input: GateInput, ctx: Context) -> dict[str, bool]:
    for _ in range(600):
        if Path(input.gate).exists():
            return {"opened": True}
        time.sleep(0.05)
    return {"opened": False}


@gated_dag.task(parents=[opener])
def after_opener(input: GateInput, ctx: Context) -> dict[str, bool]:
    return {"ran": True}


def _compress(value: str, info: Any) -> str:
    if is_in_hatchet_serialization_context(info.context):
        return base64.b64encode(zlib.compress(value.encode())).decode()
    return value


class Packed(BaseModel):
    text: Annotated[str, PlainSerializer(_compress, str)]

    @model_validator(mode="before")
    @classmethod
    def _unpack(cls, data: Any, info: ValidationInfo) -> Any:
        if is_in_hatchet_serialization_context(info.context) and isinstance(data, dict):
            return {**data, "text": zlib.decompress(base64.b64decode(data["text"])).decode()}
        return data


serde = hatchet.workflow(name="NamesSerde")


@serde.task()
def pack(input: EmptyModel, ctx: Context) -> Packed:
    return Packed(text="plain words")


@serde.task(parents=[pack])
def unpack(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"read": ctx.task_output(pack).text}


@hatchet.task(name="NamesLogs")
def writes_logs(input: EmptyModel, ctx: Context) -> dict[str, str]:
    ctx.log("a line from ctx.log")
    task_logger.info("a line from the client's logger")
    logging.getLogger("elsewhere").warning("a line from another logger")
    return {"logged": "yes"}


@namespaced.task(name="NamesNamespaced", on_events=["names:ns:event"])
def in_namespace(input: EmptyModel, ctx: Context) -> dict[str, str]:
    return {"workflow": ctx.workflow_name}


ALL = [names_child, spawn_count, fan_out, retried_once, gated_dag, serde, writes_logs, in_namespace]
