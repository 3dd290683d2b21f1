"""Triggering a workflow from the SDK (Hatchet's `clients/admin.py`): one request per run, sent through the
engine's front door. Inside a running task the new run is that task's child: it gets the task as parent, the
parent's metadata, and the next child index unless the caller gave a key or an index (so a retried parent
finds the children it already spawned instead of spawning them twice)."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING, Any

from sfpserver.engine.services import TriggerRequest, trigger_many
from sfpserver.hatchet.contextvars import current_context
from sfpserver.hatchet.dbsync import run_db
from sfpserver.hatchet.types import DesiredWorkerLabel, TriggerWorkflowOptions, WorkflowRunTriggerConfig
from sfpserver.hatchet.unsupported import unsupported

if TYPE_CHECKING:
    from sfpserver.hatchet.workflow import BaseWorkflow


def warn_run_options(
    options: TriggerWorkflowOptions | None,
    sticky: bool = False,
    desired_worker_id: str | None = None,
    desired_worker_labels: list[DesiredWorkerLabel] | None = None,
) -> None:
    """Warn (once each) for the run options, as keywords or in `TriggerWorkflowOptions`, not acted on."""
    opts = options or TriggerWorkflowOptions()
    if sticky or opts.sticky:
        unsupported("sticky", "run")
    if desired_worker_id or opts.desired_worker_id:
        unsupported("desired_worker_id", "run")
    if desired_worker_labels or opts.desired_worker_label:
        unsupported("desired_worker_labels", "run")


def _request(
    workflow: BaseWorkflow[Any],
    input: Any,
    *,
    child_key: str | None,
    child_index: int | None,
    additional_metadata: dict[str, Any],
    priority: int | None,
) -> TriggerRequest:
    ctx = current_context.get()
    metadata = dict(additional_metadata)
    parent_step_id = None
    if ctx is not None and ctx._inv is not None:  # spawned from inside a running task: a child run
        parent_step_id = ctx.task_run_id
        metadata = {**ctx.additional_metadata, **metadata}
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
    )


def _next_child_index(ctx: Any) -> int:
    index: int = getattr(ctx, "_child_index", 0)
    ctx._child_index = index + 1
    return index


def trigger_workflow(workflow: BaseWorkflow[Any], input: Any, **options: Any) -> str:
    request = _request(workflow, input, **options)
    return _spawn([request])[0]


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
    for item in items:
        warn_run_options(item.options)
    requests = [
        _request(
            workflow,
            item.input,
            child_key=item.options.child_key,
            child_index=item.options.child_index,
            additional_metadata=item.options.additional_metadata,
            priority=item.options.priority,
        )
        for item in items
    ]
    return _spawn(requests)
