"""Starting runs: validate everything first, then record the run and its steps in one transaction, then
publish the root steps after commit. A refused trigger records and enqueues nothing."""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction
from django.db.models import Model
from django.utils import timezone

from sfpserver.engine import (
    affinity,
    batching,
    gates,
    idempotency,
    lifecycle,
    pause,
    registry,
    signals,
    sql,
    statements,
    waits,
)
from sfpserver.engine.definitions import LONG_RUNNING_QUEUE, StepDef, WorkflowDef, resolve_args
from sfpserver.engine.dispatch import Dispatch, dispatch_after_commit
from sfpserver.engine.exceptions import IdempotencyCollision, InvalidInputError, InvalidWorkflowError
from sfpserver.engine.models import (
    ConcurrencySlot,
    RateLimitBucket,
    StepKind,
    StepRun,
    StepStatus,
    WorkflowRun,
)
from sfpserver.engine.storable import first_unstorable


@dataclass
class TriggerRequest:
    workflow: str | WorkflowDef
    input: Any = None
    metadata: Mapping[str, Any] = field(default_factory=dict)
    priority: int | None = None
    parent_step_id: UUID | str | None = None
    child_index: int | None = None
    child_key: str | None = None
    # Affinity for every step of the run (engine/affinity.py): labels added to each step's own, and the worker its
    # steps stick to (a child spawned `sticky` from a step: that step's worker).
    desired_worker_labels: Sequence[Mapping[str, Any]] = field(default_factory=list)
    sticky_worker: str | None = None
    # Names of steps that continue on failure in this run besides those the definition says so (settling.py).
    continue_on_failure: Collection[str] = ()


def trigger(workflow: str | WorkflowDef, input: Any = None, **options: Any) -> UUID:
    """Start one run and return its id at once."""
    return trigger_many([TriggerRequest(workflow, input, **options)])[0]


def trigger_many(requests: list[TriggerRequest]) -> list[UUID]:
    """Start several runs in one transaction; every request is validated before anything is written. A request
    whose idempotency key another run holds starts nothing: the others start, then IdempotencyCollision says
    which collided with which run."""
    return trigger_prepared([prepare(request) for request in requests])


def trigger_prepared(prepared: list[Prepared], also: Sequence[Model] = ()) -> list[UUID]:
    """`trigger_many` of runs built by `prepare` (`also`: see `start_plain`)."""
    started = start_prepared(prepared, also)
    existing = {i: s.holder for i, s in enumerate(started) if s.holder is not None}
    if existing:
        raise IdempotencyCollision([s.run_id if s.holder is None else None for s in started], existing)
    return [s.run_id for s in started]


@dataclass(frozen=True)
class Started:
    """The answer to one trigger request: the run it started or found (a child spawned before), or `holder`, the
    run that holds its idempotency key (then `run_id` is that run too, and nothing was started)."""

    run_id: UUID
    holder: UUID | None = None


def start_many(requests: list[TriggerRequest]) -> list[Started]:
    """As trigger_many, answering a collided request with the run that holds its key instead of raising (events
    drop such triggers silently, as Hatchet's do)."""
    return start_prepared([prepare(request) for request in requests])


def start_prepared(prepared: list[Prepared], also: Sequence[Model] = ()) -> list[Started]:
    """`start_many` of runs built by `prepare`. `also` (rows recorded with the runs: see `start_plain`) goes with
    plain runs only: a gated, keyed or spawned run may start nothing or be found, which rows of others cannot follow."""
    if all(p.plain for p in prepared):
        return start_plain(prepared, also)
    if also:
        raise ValueError("start_prepared: rows to record with the runs go with plain runs only (Prepared.plain)")
    with transaction.atomic():
        run_ids: list[UUID | None] = [_existing_child(p) for p in prepared]
        holders: dict[int, UUID] = {}
        gate_keys: set[str] = set()
        try:
            with transaction.atomic():
                holders = _take_keys(prepared, run_ids)
                new = [p for i, p in enumerate(prepared) if run_ids[i] is None and i not in holders]
                _hold_paused(new)
                sql.copy_rows(WorkflowRun, [p.run for p in new])
                sql.copy_rows(StepRun, [step for p in new for step in p.steps])
                gate_keys = _create_slots(new)
        except IntegrityError:
            # A concurrent spawn of the same child won the race: resolve every request again.
            run_ids = [_existing_child(p) for p in prepared]
            if any(existing is None for existing in run_ids):
                raise
            new, holders = [], {}
        _dispatch_roots(new)
        conditional_roots = [s.id for p in new for s in p.steps if s.status == StepStatus.QUEUED and s.conditional]
        if conditional_roots:
            from sfpserver.engine import durable

            durable.register_conditions(conditional_roots)
        gated_runs = {p.run.id for p in new if any(step.gated for step in p.steps)}
        lifecycle.admit_after_commit(gate_keys, gated_runs)
        _announce(new)
    return [
        Started(holders[i], holders[i]) if i in holders else Started(existing or p.run.id)
        for i, (p, existing) in enumerate(zip(prepared, run_ids, strict=True))
    ]


def start_plain(prepared: list[Prepared], also: Sequence[Model] = ()) -> list[Started]:
    """Runs that need no gate, condition, idempotency key or spawn lookup (`Prepared.plain`): one statement records
    them (their queued steps held at once if their workflow is paused), then their roots are published after commit.
    `also`: rows of other tables (model instances carrying their keys, e.g. who created each run) recorded in the
    same transaction and the same round trip."""
    if not all(p.plain for p in prepared):
        raise ValueError("start_plain: every run must be plain (Prepared.plain)")
    params = {
        "run_rows": sql.json_rows(WorkflowRun, [p.run for p in prepared]),
        "step_rows": sql.json_rows(StepRun, [step for p in prepared for step in p.steps]),
    }
    results = sql.fetch_pipelined((statements.START_RUNS, params), *sql.inserts(also))
    held = {row["id"] for row in results[0]}
    _dispatch_roots(prepared, held)
    _announce(prepared)
    return [Started(p.run.id) for p in prepared]


def _dispatch_roots(prepared: list[Prepared], held: Collection[UUID] = ()) -> None:
    """After commit, publish the runs' queued roots, but those waiting for their gates, conditions or unpause."""
    dispatch_after_commit(
        Dispatch(step.id, step.attempt, step.queue, step.priority, f"{p.run.workflow_name}:{step.name}")
        for p in prepared
        for step in p.steps
        if step.status == StepStatus.QUEUED
        and not step.gated
        and not step.conditional
        and not waits.PAUSED.holds_for(step)
        and step.id not in held
    )


def _announce(prepared: list[Prepared]) -> None:
    for p in prepared:
        signals.after_commit_run_changed(p.run.id)  # the live feed shows a new run while it is queued


def _hold_paused(prepared: list[Prepared]) -> None:
    """The queued roots of a run of a paused workflow wait for the unpause (engine/pause.py), at most its queue
    TTL; they get no message and no gate slots until then."""
    pauses = pause.paused(p.run.workflow_name for p in prepared)
    if not pauses:
        return
    now = timezone.now()
    for p in prepared:
        found = pauses.get(p.run.workflow_name)
        if found is None:
            continue
        for step in (step for step in p.steps if step.status == StepStatus.QUEUED):
            wait = waits.enter(waits.Event.PAUSED, gated=step.gated, now=now, delay=found.queue_ttl_seconds)
            wait.apply(step)
            step.available_at = None


def _take_keys(prepared: list[Prepared], run_ids: list[UUID | None]) -> dict[int, UUID]:
    """Take the idempotency key of each request that would start a run; the holders of those already held."""
    holders = {}
    for i, p in enumerate(prepared):
        if p.key is not None and run_ids[i] is None:
            holder = idempotency.take(p.key, p.run.id)
            if holder is not None:
                holders[i] = holder
    return holders


@dataclass
class Prepared:
    run: WorkflowRun
    steps: list[StepRun]
    key: idempotency.Key | None = None

    @property
    def plain(self) -> bool:
        """Nothing to take, look up or admit besides the rows themselves (statements.START_RUNS)."""
        spawn_key = self.run.parent_step_id is not None and (
            self.run.child_key is not None or self.run.child_index is not None
        )
        return self.key is None and not spawn_key and not self.run.gated and not any(s.conditional for s in self.steps)


def prepare(request: TriggerRequest) -> Prepared:
    _refuse_unstorable_names(request)
    definition = (
        request.workflow.validate()
        if isinstance(request.workflow, WorkflowDef)
        else registry.get_workflow(request.workflow)
    )
    run_input = _validated_input(definition, request.input)
    metadata = _metadata(definition, request.metadata)
    priority = definition.default_priority if request.priority is None else request.priority
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 3:
        raise InvalidWorkflowError("priority", f"must be an integer from 1 to 3, got {priority!r}")
    if request.child_index is not None and (not isinstance(request.child_index, int) or request.child_index < 0):
        raise InvalidWorkflowError("child_index", f"must be a whole number >= 0, got {request.child_index!r}")
    run = sql.build(
        WorkflowRun,
        id=uuid4(),
        workflow_name=definition.name,
        input=run_input,
        additional_metadata=metadata,
        priority=priority,
        parent_step_id=request.parent_step_id,
        child_index=request.child_index,
        child_key=request.child_key,
    )
    variables = {"input": run_input or {}, "additional_metadata": metadata}
    run_keys = gates.evaluate_keys(definition.name, definition.concurrency, variables)
    continuing = _continuing(definition, request.continue_on_failure)
    steps = _steps(definition, run, run_keys, variables, continuing)
    _apply_affinity(definition, request, steps)
    _apply_batch(definition, steps, variables)
    run.gated = any(step.gated for step in steps)
    return Prepared(run, steps, idempotency.evaluate(definition.idempotency, variables))


def _continuing(definition: WorkflowDef, requested: Collection[str]) -> set[str]:
    """The steps of this run that continue on failure: the definition's, and those the trigger names (each must
    be a task of the workflow)."""
    if isinstance(requested, str) or not all(isinstance(name, str) for name in requested):
        raise InvalidWorkflowError("continue_on_failure", "must be a list of step names")
    tasks = {step.name for step in definition.steps if step.kind == StepKind.TASK}
    unknown = sorted(set(requested) - tasks)
    if unknown:
        known = ", ".join(sorted(tasks))
        raise InvalidWorkflowError(
            "continue_on_failure", f"no step {', '.join(map(repr, unknown))} in {definition.name!r} (steps: {known})"
        )
    return set(requested) | {step.name for step in definition.steps if step.continue_on_failure}


def _refuse_unstorable_names(request: TriggerRequest) -> None:
    """A NUL or a lone surrogate in a name would reach Postgres as a psycopg error; refuse it naming the field."""
    for name, text in (("workflow", request.workflow), ("child_key", request.child_key)):
        found = first_unstorable(text, name) if isinstance(text, str) else None
        if found is not None:
            raise InvalidWorkflowError(*found)


def _validated_input(definition: WorkflowDef, value: Any) -> Any:
    if definition.input_validator is not None:
        try:
            value = definition.input_validator(value)
        except (ValueError, TypeError) as exc:
            raise InvalidInputError(str(exc)) from None
    try:
        value = json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"must be JSON-serialisable: {exc}") from None
    refuse_unstorable(value)
    return value


def refuse_unstorable(input: Any, metadata: Any = None) -> None:
    """InvalidInputError (or InvalidWorkflowError for the metadata) naming the first value Postgres could not
    store (engine/storable.py); for whoever writes an input or metadata row without triggering it yet."""
    found = first_unstorable(input, "input")
    if found is not None:
        raise InvalidInputError(found[1], field=found[0])
    found = first_unstorable(metadata, "additional_metadata")
    if found is not None:
        raise InvalidWorkflowError(*found)


def _metadata(definition: WorkflowDef, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    if metadata is not None and not isinstance(metadata, Mapping):
        raise InvalidWorkflowError("additional_metadata", "must be a mapping of names to values")
    merged = {**definition.default_metadata, **(metadata or {})}
    try:
        merged = dict(json.loads(json.dumps(merged, cls=DjangoJSONEncoder)))
    except (TypeError, ValueError) as exc:
        raise InvalidWorkflowError("additional_metadata", f"must be JSON-serialisable: {exc}") from None
    refuse_unstorable(None, merged)
    return merged


def _step_gates(
    definition: WorkflowDef, step: StepDef, run_keys: list[gates.Key], variables: dict[str, Any]
) -> dict[str, Any]:
    keys = gates.evaluate_keys(f"{definition.name}:{step.name}", step.concurrency, variables)
    limits = gates.evaluate_rate_limits(step.rate_limits, variables)
    for limit in limits:
        if limit["limit"] is None and not RateLimitBucket.objects.filter(key=limit["key"]).exists():
            raise InvalidWorkflowError(
                f"steps.{step.name}.rate_limits", f"no rate limit {limit['key']!r}; create it first (rate_limits.put)"
            )
    if not (keys or limits or run_keys):
        return {}
    return {
        "concurrency": [asdict(k) for k in keys],
        "run_concurrency": [asdict(k) for k in run_keys],
        "rate_limits": limits,
    }


def _create_slots(prepared: list[Prepared]) -> set[str]:
    """WAITING slots for each gated run (held for the whole run) and for its gated root steps."""
    run_slots = [
        ConcurrencySlot(key=k["key"], strategy=k["strategy"], max_runs=k["max_runs"], run_id=p.run.id)
        for p in prepared
        for k in (p.steps[0].gates.get("run_concurrency", []) if p.steps else [])
    ]
    ConcurrencySlot.objects.bulk_create(run_slots)
    roots = [
        step
        for p in prepared
        for step in p.steps
        if step.gated and step.status == StepStatus.QUEUED and not waits.PAUSED.holds_for(step)
    ]
    return {s.key for s in run_slots} | gates.add_step_slots(roots)


def _steps(
    definition: WorkflowDef,
    run: WorkflowRun,
    run_keys: list[gates.Key],
    variables: dict[str, Any],
    continuing: set[str],
) -> list[StepRun]:
    now = timezone.now()
    steps = []
    for step in definition.steps:
        step_gates = _step_gates(definition, step, run_keys, variables)
        is_root = not step.parents and step.kind != StepKind.ON_FAILURE
        execution_timeout = step.execution_timeout or (
            settings.LONG_RUNNING_DEFAULT_TIMEOUT
            if step.queue == LONG_RUNNING_QUEUE
            else settings.STANDARD_DEFAULT_TIMEOUT
        )
        steps.append(
            sql.build(
                StepRun,
                id=uuid4(),
                run=run,
                name=step.name,
                action=step.action,
                kind=step.kind,
                parents=list(step.parents),
                pending_parents=len(step.parents),
                queue=step.queue,
                priority=run.priority,
                args=resolve_args(step.args, run.input),
                retries=step.retries,
                backoff_factor=step.backoff_factor,
                backoff_max_seconds=step.backoff_max_seconds,
                execution_timeout=execution_timeout,
                schedule_timeout=step.schedule_timeout,
                status=StepStatus.QUEUED if is_root else StepStatus.PENDING,
                gates=step_gates,
                gated=bool(step_gates),
                continue_on_failure=step.name in continuing,
                conditions=dict(step.conditions),
                conditional=any(step.conditions.values()),
                queued_at=now if is_root else None,
                available_at=now if is_root and not step_gates else None,
                schedule_deadline=now + timedelta(seconds=step.schedule_timeout) if is_root else None,
                **_initial_wait(is_root, bool(step_gates), any(step.conditions.values()), now).fields(),
            )
        )
    return steps


def _apply_affinity(definition: WorkflowDef, request: TriggerRequest, steps: list[StepRun]) -> None:
    """Steps with affinity go through the routed queue and carry their affinity in their args."""
    sticky = definition.sticky or ("SOFT" if request.sticky_worker else None)
    for step, step_def in zip(steps, definition.steps, strict=True):
        found = affinity.spec(
            step_def.desired_worker_labels, request.desired_worker_labels, sticky, request.sticky_worker
        )
        if found:
            step.queue = affinity.routed_queue(step.queue)
            step.args = {**step.args, "affinity": found}


def _apply_batch(definition: WorkflowDef, steps: list[StepRun], variables: dict[str, Any]) -> None:
    """Steps of batch tasks join batches instead of being published alone (engine/batching.py)."""
    for step, step_def in zip(steps, definition.steps, strict=True):
        if step_def.batch is not None:  # a batch goes to any worker of its queue: no affinity
            step.queue = batching.batch_queue(affinity.base_queue(step.queue))
            step.args = {
                **{k: v for k, v in step.args.items() if k != "affinity"},
                "batch": batching.spec(step_def.batch, variables),
            }


def _initial_wait(is_root: bool, gated: bool, conditional: bool, now: Any) -> waits.Wait:
    """A root with conditions waits for them (durable.register_conditions decides it after the insert)."""
    if is_root and conditional:
        return waits.evicted(sleeps=True, events=True, until=None)
    return waits.enter(waits.Event.QUEUED if is_root else waits.Event.DEFERRED, gated=gated, now=now)


def _existing_child(prepared: Prepared) -> UUID | None:
    run = prepared.run
    if run.parent_step_id is None or (run.child_key is None and run.child_index is None):
        return None
    found = WorkflowRun.objects.filter(parent_step_id=run.parent_step_id)
    found = (
        found.filter(child_key=run.child_key)
        if run.child_key is not None
        else found.filter(child_key__isnull=True, child_index=run.child_index)
    )
    return found.values_list("id", flat=True).first()
