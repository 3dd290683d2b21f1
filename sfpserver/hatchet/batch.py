"""Batch tasks (`@hatchet.batch_task`, `workflow.batch_task`): each run is one member; the engine gathers members
into batches (engine/batching.py) and the function runs once per batch with `dict[BatchMemberId, input]`. It
returns `dict[BatchMemberId, output]` (each member gets its own), or with `broadcast_output=True` one value every
member gets. A member the function returns nothing for fails with a ValueError naming it.

The settings and the member output type are in the leaf `batch_options.py` (re-exported here).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from uuid import UUID

from sfpserver.hatchet.batch_options import BatchMemberId, BatchSettings, member_adapter, settings
from sfpserver.hatchet.contextvars import current_context
from sfpserver.hatchet.task import _run_coroutine

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation
    from sfpserver.hatchet.task import Task


def bind(task: Task[Any, Any], lifespan: Callable[[], Any] | None) -> Callable[[list[Invocation]], dict[UUID, Any]]:
    """The engine's batch handler for `task` (engine/batch_runtime.py)."""

    def handler(invocations: list[Invocation]) -> dict[UUID, Any]:
        return run_batch(task, invocations, lifespan() if lifespan else None)

    handler.batch = True  # type: ignore[attr-defined]
    return handler


def run_batch(task: Task[Any, Any], invocations: list[Invocation], lifespan: Any) -> dict[UUID, Any]:
    first = invocations[0]
    ctx = task.context_for(first, lifespan)  # the batch's: that of its first member
    inputs = {BatchMemberId(str(inv.step_id)): task.workflow.validate_input(inv.input) for inv in invocations}
    token = current_context.set(ctx)
    try:
        result = _run_coroutine(task.fn(inputs, ctx), first) if task.is_async else task.fn(inputs, ctx)
    finally:
        current_context.reset(token)
    assert task.options.batch is not None
    if task.options.batch.broadcast:
        shared = task.serialize_output(result)
        return {inv.step_id: shared for inv in invocations}
    return {inv.step_id: _member_output(task, result, str(inv.step_id)) for inv in invocations}


def _member_output(task: Task[Any, Any], result: Any, member: str) -> Any:
    if not isinstance(result, dict):
        return TypeError(f"a batch task returns a dict of member ids to outputs, got {type(result).__name__}")
    if member not in result:
        return ValueError(f"the batch function returned no output for member {member}")
    try:
        return task.serialize_output(result[member])
    except Exception as exc:  # noqa: BLE001 - this member's output is bad: it fails alone
        return exc


__all__ = ["BatchMemberId", "BatchSettings", "bind", "member_adapter", "run_batch", "settings"]
