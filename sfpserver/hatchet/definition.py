"""Compile-to-definition: a workflow and its tasks become the engine's `WorkflowDef` (through the front door).

This is where Hatchet's registration rules are checked (no tasks, duplicate names, a parent from another
workflow, a bad cron) and where the SDK's options meet the engine's step fields: the queue a task goes to
(its `pool` label or its workflow's own queue), its other desired worker labels and the workflow's sticky
strategy (engine/affinity.py places them), its concurrency and rate-limit specs, its credentials.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sfpserver.engine.services import StepDef, WorkflowDef
from sfpserver.hatchet.conditions import to_dag
from sfpserver.hatchet.options import is_pool_label
from sfpserver.hatchet.types import (
    RATE_LIMIT_SECONDS,
    ConcurrencyExpression,
    RateLimit,
    StickyStrategy,
    duration_seconds,
)

if TYPE_CHECKING:
    from sfpserver.hatchet.task import Task
    from sfpserver.hatchet.workflow import BaseWorkflow


def queue_for(workflow_name: str) -> str:
    return f"hatchet.{workflow_name}"


def queue_of(task: Task[Any, Any]) -> str:
    for label in task.options.desired_worker_labels:
        if is_pool_label(label):
            return str(label.value)
    return queue_for(task.workflow.name)


def concurrency_spec(expression: ConcurrencyExpression) -> dict[str, Any]:
    return {
        "expression": expression.expression,
        "max_runs": expression.max_runs,
        "strategy": expression.limit_strategy.value,
        "name": expression.name,
        "is_tenant_scoped": expression.is_tenant_scoped,
    }


def rate_limit_spec(limit: RateLimit) -> dict[str, Any]:
    return {
        "static_key": limit.static_key,
        "dynamic_key": limit.dynamic_key,
        "units": limit.units,
        "limit": None if limit.static_key else limit.limit,
        "window_seconds": RATE_LIMIT_SECONDS[limit.duration],
    }


def step_of(task: Task[Any, Any]) -> StepDef:
    options = task.options
    return StepDef(
        name=task.name,
        action=task.action,
        parents=tuple(p.name for p in options.parents),
        kind=task.kind,
        retries=options.retries,
        backoff_factor=options.backoff_factor,
        backoff_max_seconds=options.backoff_max_seconds,
        execution_timeout=duration_seconds(options.execution_timeout, 60.0),
        schedule_timeout=duration_seconds(options.schedule_timeout, 300.0),
        queue=queue_of(task),
        args=_args(task),
        concurrency=tuple(concurrency_spec(c) for c in options.concurrency),
        rate_limits=tuple(rate_limit_spec(r) for r in options.rate_limits),
        desired_worker_labels=tuple(
            d.model_dump(mode="json") for d in options.desired_worker_labels if not is_pool_label(d)
        ),
        batch=None if options.batch is None else options.batch.to_engine(),
        continue_on_failure=options.continue_on_failure,
        conditions=_conditions(task),
    )


def _conditions(task: Task[Any, Any]) -> dict[str, Any]:
    """The task's wait_for / skip_if / cancel_if in the engine's form (sleeps by duration: due from release)."""
    options = task.options
    given = {"wait_for": options.wait_for, "skip_if": options.skip_if, "cancel_if": options.cancel_if}
    return {action: to_dag(list(found)) for action, found in given.items() if found}


def _args(task: Task[Any, Any]) -> dict[str, Any]:
    options = task.options
    args: dict[str, Any] = {}
    if options.credentials:
        args["credentials"] = list(options.credentials)
    if options.credentials_from_input:
        args["credentials_from_input"] = list(options.credentials_from_input)
    return args


def check(workflow: BaseWorkflow[Any]) -> None:
    """Raises ValueError for what Hatchet refuses at registration."""
    if not workflow.tasks:
        raise ValueError(f"Workflow {workflow.name} has no tasks")
    names = [t.name for t in workflow.all_tasks()]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"Duplicate task names found in workflow {workflow.name}: {', '.join(dupes)}")
    for task in workflow.tasks:
        for parent in task.parents:
            if parent.workflow is not workflow:
                raise ValueError(
                    f"Task {task.name} in workflow {workflow.name} has parent {parent.name} "
                    f"from another workflow ({parent.workflow.name})"
                )
    from sfpserver.hatchet.features import validate_cron

    for expression in workflow.on_crons:
        validate_cron(expression)


def _steps(workflow: BaseWorkflow[Any]) -> tuple[StepDef, ...]:
    steps = [step_of(t) for t in workflow.all_tasks()]
    if workflow.on_success is not None:  # the on-success task waits for every leaf of the DAG
        children = {p.name for t in workflow.tasks for p in t.parents}
        leaves = tuple(t.name for t in workflow.tasks if t.name not in children)
        steps[-1] = dataclasses.replace(steps[-1], parents=leaves)
    return tuple(steps)


def compile_workflow(workflow: BaseWorkflow[Any], input_validator: Callable[[Any], Any]) -> WorkflowDef:
    """The engine definition of `workflow`; raises ValueError for what Hatchet refuses at registration."""
    check(workflow)
    return WorkflowDef(
        name=workflow.name,
        steps=_steps(workflow),
        default_priority=workflow.default_priority,
        default_metadata=workflow.default_additional_metadata,
        triggers=workflow.spec_extras(),
        input_validator=input_validator,
        concurrency=tuple(concurrency_spec(c) for c in workflow.concurrency),
        idempotency=_idempotency_spec(workflow.options.idempotency),
        sticky=None if workflow.sticky is None else StickyStrategy(workflow.sticky).value,
    ).validate()


def _idempotency_spec(config: Any) -> dict[str, Any] | None:
    """The engine's idempotency spec of a `TTLBasedIdempotencyConfig` (`ttl`) or `StatusBasedIdempotencyConfig`
    (`fallback_ttl`), read by Hatchet's field names."""
    if config is None:
        return None
    expression = getattr(config, "key_expression", None)
    ttl, fallback = getattr(config, "ttl", None), getattr(config, "fallback_ttl", None)
    if expression is None or (ttl is None) == (fallback is None):
        raise ValueError(
            f"idempotency must be a TTLBasedIdempotencyConfig or a StatusBasedIdempotencyConfig, got {config!r}"
        )
    seconds = duration_seconds(ttl if ttl is not None else fallback, 0.0)
    return {"expression": expression, "ttl_seconds": seconds, "method": "TTL" if ttl is not None else "STATUS"}
