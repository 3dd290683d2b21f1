"""Triggering a workflow from the SDK (Hatchet's `clients/admin.py`): one request per run, sent through the
engine's front door. Inside a running task the new run is that task's child: it gets the task as parent, the
parent's metadata, and the next child index unless the caller gave a key or an index (so a retried parent
finds the children it already spawned instead of spawning them twice)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sfpserver.engine.services import IdempotencyCollision, TriggerRequest, trigger_many
from sfpserver.hatchet import tracing
from sfpserver.hatchet.contextvars import action_key, current_context, workflow_spawn_indices
from sfpserver.hatchet.dbsync import run_db
from sfpserver.hatchet.exceptions import BulkTriggerIdempotencyCollisionError, IdempotencyCollisionError
from sfpserver.hatchet.options import label_tuple
from sfpserver.hatchet.types import DesiredWorkerLabel, TriggerWorkflowOptions, WorkflowRunTriggerConfig
from sfpserver.hatchet.unsupported import unsupported

# What the event filter that started a run put in its metadata (eventfilters.py): the run's own, never a child's.
EVENT_FILTER_KEYS = frozenset({"hatchet__filter_id", "hatchet__filter_payload"})

if TYPE_CHECKING:
    from sfpserver.hatchet.workflow import BaseWorkflow


def with_run_options(
    options: TriggerWorkflowOptions | None,
    sticky: bool = False,
    desired_worker_id: str | None = None,
    desired_worker_labels: list[DesiredWorkerLabel] | None = None,
) -> TriggerWorkflowOptions:
    """The run's options with the affinity keywords of `run(...)` folded in (a keyword wins over the options)."""
    opts = options or TriggerWorkflowOptions()
    labels = label_tuple(desired_worker_labels) or label_tuple(opts.desired_worker_label)
    merged = opts.model_copy(
        update={
            "sticky": bool(sticky or opts.sticky),
            "desired_worker_id": desired_worker_id or opts.desired_worker_id,
            "desired_worker_label": list(labels) or None,
        }
    )
    if merged.desired_worker_id and not merged.sticky:
        unsupported("desired_worker_id", "run")
    return merged


def _affinity(opts: TriggerWorkflowOptions, ctx: Any) -> dict[str, Any]:
    """The engine's run-level affinity: the run's desired labels, and (sticky, as Hatchet) the worker its steps
    stick to: the given `desired_worker_id`, else the worker of the task spawning it."""
    labels = [label.model_dump(mode="json") for label in label_tuple(opts.desired_worker_label)]
    spawner = ctx.worker_id if ctx is not None and ctx._inv is not None else None
    worker = (opts.desired_worker_id or spawner) if opts.sticky else None
    return {"desired_worker_labels": labels, "sticky_worker": worker}


def _request(
    workflow: BaseWorkflow[Any],
    input: Any,
    *,
    child_key: str | None,
    child_index: int | None,
    additional_metadata: dict[str, Any],
    priority: int | None,
    options: TriggerWorkflowOptions | None = None,
) -> TriggerRequest:
    ctx = current_context.get()
    metadata = dict(additional_metadata)
    parent_step_id = None
    if ctx is not None and ctx._inv is not None:  # spawned from inside a running task: a child run
        parent_step_id = ctx.task_run_id
        inherited = {k: v for k, v in ctx.additional_metadata.items() if k not in EVENT_FILTER_KEYS}
        metadata = {**inherited, **metadata}
        if child_key is None and child_index is None:
            child_index = _next_child_index(ctx)
    return TriggerRequest(
        workflow.to_definition(),
        input,
        metadata=metadata,
        priority=priority,
        parent_step_id=parent_step_id,
        child_index=child_index,
        child_key=child_key,
        **_affinity(options or TriggerWorkflowOptions(), ctx),
    )


def _next_child_index(ctx: Any) -> int:
    """The spawn count of this attempt (`workflow_spawn_indices`, as Hatchet keeps it), then one more."""
    key = action_key(ctx.task_run_id, ctx.retry_count)
    index = workflow_spawn_indices[key]
    workflow_spawn_indices[key] = index + 1
    return index


def trigger_workflow(workflow: BaseWorkflow[Any], input: Any, **options: Any) -> str:
    """The id of the run started; IdempotencyCollisionError when another run holds the run's idempotency key."""
    request = _request(workflow, input, **options)
    metadata = dict(request.metadata)
    with tracing.trigger_span("hatchet.run_workflow", metadata, _span_values(workflow, request)) as span:
        request.metadata = metadata
        try:
            run_id = _spawn([request])[0]
        except IdempotencyCollision as collision:
            raise IdempotencyCollisionError(str(collision.existing[0])) from None
        tracing.set_run_ids(span, [run_id])
    return run_id


def _span_values(workflow: BaseWorkflow[Any], request: TriggerRequest) -> dict[str, Any]:
    return {
        "workflow_name": workflow.name,
        "priority": request.priority,
        "parent_step_run_id": request.parent_step_id,
        "child_index": request.child_index,
        "child_key": request.child_key,
    }


def _spawn(requests: list[TriggerRequest]) -> list[str]:
    """Trigger the runs; from a durable task, as the next entry of its log, so a replay gets the same runs back
    instead of spawning them again (engine/durable.py)."""
    from sfpserver.hatchet.context import DurableContext

    def spawn() -> list[str]:
        return [str(run_id) for run_id in trigger_many(requests)]

    ctx = current_context.get()
    if isinstance(ctx, DurableContext) and ctx._inv is not None:
        key = "spawn:" + ",".join(f"{_name(r.workflow)}#{r.child_key or _digest(r.input)}" for r in requests)
        return run_db(lambda: ctx._spawned(key, spawn))
    return run_db(spawn)


def _digest(input: Any) -> str:
    """What identifies a spawn in a durable task's log besides its workflow: its input."""
    text = json.dumps(input, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _name(workflow: Any) -> str:
    return workflow if isinstance(workflow, str) else str(workflow.name)


def trigger_workflows(workflow: BaseWorkflow[Any], items: list[WorkflowRunTriggerConfig]) -> list[str]:
    requests = [
        _request(
            workflow,
            item.input,
            child_key=item.options.child_key,
            child_index=item.options.child_index,
            additional_metadata=item.options.additional_metadata,
            priority=item.options.priority,
            options=item.options,
        )
        for item in items
    ]
    shared: dict[str, Any] = {}
    with tracing.trigger_span("hatchet.run_workflows", shared, {"workflow_name": workflow.name}) as span:
        for request in requests:
            request.metadata = {**shared, **request.metadata}
        try:
            run_ids = _spawn(requests)
        except IdempotencyCollision as collision:
            tracing.set_run_ids(span, [str(run_id) for run_id in collision.run_ids if run_id is not None])
            raise _bulk_collision(collision) from None
        tracing.set_run_ids(span, run_ids)
    return run_ids


def _bulk_collision(collision: IdempotencyCollision) -> BulkTriggerIdempotencyCollisionError:
    return BulkTriggerIdempotencyCollisionError(
        [str(run_id) for run_id in collision.run_ids if run_id is not None],
        [IdempotencyCollisionError(str(run_id)) for run_id in collision.existing.values()],
    )
