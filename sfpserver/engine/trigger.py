"""Starting runs: validate everything first, then record the run and its steps in one transaction, then
publish the root steps after commit. A refused trigger records and enqueues nothing."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.utils import timezone

from sfpserver.engine import registry
from sfpserver.engine.definitions import LONG_RUNNING_QUEUE, WorkflowDef
from sfpserver.engine.dispatch import Dispatch, dispatch_after_commit
from sfpserver.engine.exceptions import InvalidInputError, InvalidWorkflowError
from sfpserver.engine.models import StepKind, StepRun, StepStatus, WorkflowRun


@dataclass
class TriggerRequest:
    workflow: str | WorkflowDef
    input: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    priority: int | None = None
    parent_step_id: UUID | str | None = None
    child_index: int | None = None
    child_key: str | None = None


def trigger(workflow: str | WorkflowDef, input: Any = None, **options: Any) -> UUID:
    """Start one run and return its id at once."""
    return trigger_many([TriggerRequest(workflow, input, **options)])[0]


def trigger_many(requests: list[TriggerRequest]) -> list[UUID]:
    """Start several runs in one transaction; every request is validated before anything is written."""
    prepared = [_prepare(request) for request in requests]
    with transaction.atomic():
        run_ids: list[UUID | None] = [_existing_child(p) for p in prepared]
        new = [p for p, existing in zip(prepared, run_ids, strict=True) if existing is None]
        try:
            with transaction.atomic():
                WorkflowRun.objects.bulk_create([p.run for p in new])
                StepRun.objects.bulk_create([step for p in new for step in p.steps])
        except IntegrityError:
            # A concurrent spawn of the same child won the race: resolve every request again.
            run_ids = [_existing_child(p) for p in prepared]
            if any(existing is None for existing in run_ids):
                raise
            new = []
        dispatch_after_commit(
            Dispatch(step.id, step.attempt, step.queue)
            for p in new
            for step in p.steps
            if step.status == StepStatus.QUEUED
        )
    return [existing or p.run.id for p, existing in zip(prepared, run_ids, strict=True)]


@dataclass
class _Prepared:
    run: WorkflowRun
    steps: list[StepRun]


def _prepare(request: TriggerRequest) -> _Prepared:
    definition = (
        request.workflow.validate() if isinstance(request.workflow, WorkflowDef) else registry.get_workflow(request.workflow)
    )
    run_input = _validated_input(definition, request.input)
    metadata = _metadata(definition, request.metadata)
    priority = definition.default_priority if request.priority is None else request.priority
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 3:
        raise InvalidWorkflowError("priority", f"must be an integer from 1 to 3, got {priority!r}")
    if request.child_index is not None and (not isinstance(request.child_index, int) or request.child_index < 0):
        raise InvalidWorkflowError("child_index", f"must be a whole number >= 0, got {request.child_index!r}")
    run = WorkflowRun(
        id=uuid4(), workflow_name=definition.name, input=run_input, additional_metadata=metadata,
        priority=priority, parent_step_id=request.parent_step_id, child_index=request.child_index,
        child_key=request.child_key,
    )
    return _Prepared(run, _steps(definition, run))


def _validated_input(definition: WorkflowDef, value: Any) -> Any:
    if definition.input_validator is not None:
        try:
            value = definition.input_validator(value)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(str(exc)) from None
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"must be JSON-serialisable: {exc}") from None


def _metadata(definition: WorkflowDef, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidWorkflowError("additional_metadata", "must be a mapping of names to values")
    merged = {**definition.default_metadata, **(metadata or {})}
    try:
        return dict(json.loads(json.dumps(merged, cls=DjangoJSONEncoder)))
    except (TypeError, ValueError) as exc:
        raise InvalidWorkflowError("additional_metadata", f"must be JSON-serialisable: {exc}") from None


def _steps(definition: WorkflowDef, run: WorkflowRun) -> list[StepRun]:
    now = timezone.now()
    steps = []
    for step in definition.steps:
        is_root = not step.parents and step.kind != StepKind.ON_FAILURE
        execution_timeout = step.execution_timeout or (
            settings.LONG_RUNNING_DEFAULT_TIMEOUT if step.queue == LONG_RUNNING_QUEUE else settings.STANDARD_DEFAULT_TIMEOUT
        )
        steps.append(
            StepRun(
                id=uuid4(), run=run, name=step.name, action=step.action, kind=step.kind, parents=list(step.parents),
                pending_parents=len(step.parents), queue=step.queue, priority=run.priority, args=dict(step.args),
                retries=step.retries, backoff_factor=step.backoff_factor, backoff_max_seconds=step.backoff_max_seconds,
                execution_timeout=execution_timeout, schedule_timeout=step.schedule_timeout,
                status=StepStatus.QUEUED if is_root else StepStatus.PENDING,
                queued_at=now if is_root else None, available_at=now if is_root else None,
                dispatched_at=now if is_root else None,
                schedule_deadline=now + timedelta(seconds=step.schedule_timeout) if is_root else None,
            )
        )
    return steps


def _existing_child(prepared: _Prepared) -> UUID | None:
    run = prepared.run
    if run.parent_step_id is None or (run.child_key is None and run.child_index is None):
        return None
    found = WorkflowRun.objects.filter(parent_step_id=run.parent_step_id)
    found = found.filter(child_key=run.child_key) if run.child_key is not None else found.filter(
        child_key__isnull=True, child_index=run.child_index
    )
    return found.values_list("id", flat=True).first()
