"""Batch tasks (`@hatchet.batch_task`, `workflow.batch_task`): each run is one member; the engine gathers members
into batches (engine/batching.py) and the function runs once per batch with `dict[BatchMemberId, input]`. It
returns `dict[BatchMemberId, output]` (each member gets its own), or with `broadcast_output=True` one value every
member gets. A member the function returns nothing for fails with a ValueError naming it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import timedelta
from typing import TYPE_CHECKING, Any, NewType, get_args, get_origin, get_type_hints
from uuid import UUID

from pydantic import TypeAdapter

from sfpserver.hatchet.context import Context
from sfpserver.hatchet.contextvars import current_context
from sfpserver.hatchet.types import Duration, duration_seconds

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation
    from sfpserver.hatchet.task import Task

BatchMemberId = NewType("BatchMemberId", str)


@dataclasses.dataclass(frozen=True)
class BatchSettings:
    max_size: int
    interval: float  # seconds
    group_key: str | None = None
    max_runs: int | None = None
    broadcast: bool = False

    def to_engine(self) -> dict[str, Any]:
        return {
            "max_size": self.max_size,
            "interval": self.interval,
            "group_key": self.group_key,
            "max_runs": self.max_runs,
        }


def settings(
    batch_max_size: int,
    batch_max_interval: Duration | None,
    batch_group_key: str | None,
    batch_group_max_runs: int | None,
    broadcast_output: bool,
) -> BatchSettings:
    if isinstance(batch_max_size, bool) or not isinstance(batch_max_size, int) or batch_max_size < 1:
        raise ValueError(f"batch_max_size must be a whole number >= 1, got {batch_max_size!r}")
    if batch_group_max_runs is not None and (not isinstance(batch_group_max_runs, int) or batch_group_max_runs < 1):
        raise ValueError(f"batch_group_max_runs must be a whole number >= 1, got {batch_group_max_runs!r}")
    interval = duration_seconds(batch_max_interval or timedelta(seconds=1), 1.0)
    return BatchSettings(batch_max_size, interval, batch_group_key or None, batch_group_max_runs, broadcast_output)


def member_adapter(fn: Callable[..., Any], broadcast: bool) -> TypeAdapter[Any] | None:
    """What one member's output is validated with: the return type (broadcast) or the value type of its dict."""
    try:
        hint = get_type_hints(fn).get("return")
    except Exception:  # noqa: BLE001 - unresolvable annotations: no output validation
        return None
    if hint is not None and not broadcast:
        hint = get_args(hint)[1] if get_origin(hint) is dict and len(get_args(hint)) == 2 else None
    if hint is None or hint is type(None):
        return None
    try:
        return TypeAdapter(hint)
    except Exception:  # noqa: BLE001 - a hint pydantic cannot handle: no output validation
        return None


def bind(task: Task[Any, Any], lifespan: Callable[[], Any] | None) -> Callable[[list[Invocation]], dict[UUID, Any]]:
    """The engine's batch handler for `task` (engine/batch_runtime.py)."""

    def handler(invocations: list[Invocation]) -> dict[UUID, Any]:
        return run_batch(task, invocations, lifespan() if lifespan else None)

    handler.batch = True  # type: ignore[attr-defined]
    return handler


def run_batch(task: Task[Any, Any], invocations: list[Invocation], lifespan: Any) -> dict[UUID, Any]:
    from sfpserver.hatchet.task import _run_coroutine

    first = invocations[0]
    ctx = _context(task, first, lifespan)
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


def _context(task: Task[Any, Any], inv: Invocation, lifespan: Any) -> Context:
    """The batch's context: that of its first member (its run, metadata, children)."""
    from sfpserver.hatchet.task import _parent_run_id

    claimed = inv.claimed
    return Context(
        invocation=inv,
        task=task,
        workflow_run_id=str(claimed.run_id),
        task_run_id=str(claimed.step_id),
        parent_outputs=claimed.parent_outputs,
        additional_metadata=claimed.metadata,
        retry_count=claimed.attempt,
        max_attempts=claimed.retries + 1,
        priority=claimed.priority,
        workflow_name=claimed.workflow_name,
        task_name=task.name,
        worker_id=str(inv.worker_id) if inv.worker_id else None,
        parent_workflow_run_id=_parent_run_id(claimed.parent_step_id),
        lifespan=lifespan,
    )
