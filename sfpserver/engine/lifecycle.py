"""State transitions of runs and steps, each in one Postgres transaction.

Every transition that ends an attempt is fenced: it applies only to the step's current attempt while that
attempt is RUNNING, so a late or duplicated message never records a second outcome. Transitions of a run
lock the run row first, which serialises the joins of parallel branches (the Postgres-backed chord).
"""

from __future__ import annotations

import hashlib
import json
import logging
import secrets
from collections.abc import Callable, Iterable
from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from sfpserver.engine import gates, groupcommit, settling, signals, sql, statements, waits
from sfpserver.engine.definitions import backoff_delay, descendants
from sfpserver.engine.dispatch import Dispatch, dispatch_after_commit
from sfpserver.engine.exceptions import InvalidStateError, RunNotFoundError
from sfpserver.engine.models import (
    TERMINAL_STEP_STATUSES,
    Attempt,
    AttemptOutcome,
    RunStatus,
    StepKind,
    StepRun,
    StepStatus,
    WorkflowRun,
)
from sfpserver.engine.waits import Event

logger = logging.getLogger(__name__)

RETRY_PRIORITY = 4  # retries go ahead of every user priority, as in Hatchet
SKIPPED_OUTPUT = statements.SKIPPED_OUTPUT


@dataclass(frozen=True)
class ErrorInfo:
    type: str
    message: str
    traceback: str = ""


@dataclass(frozen=True)
class Claimed:
    step_id: UUID
    run_id: UUID
    name: str
    action: str
    attempt: int
    retries: int
    args: dict[str, Any]
    timeout_at: Any
    workflow_name: str
    input: Any
    metadata: dict[str, Any]
    priority: int
    parent_step_id: UUID | None
    parent_outputs: dict[str, Any]
    run_gated: bool = True  # some step of the run waits for concurrency or rate-limit gates (gates.py)
    run_steps: int = 0  # how many steps the run has, counted up to 2 (0: unknown)
    evictions: int = 0  # attempts a durable task ended at a wait: its retry count is attempt - evictions
    # The attempt's lease secret: minted at the claim, held only in the claiming process's memory (Postgres keeps
    # its hash), presented to lease the step's credentials. Never shown in a repr, a log line or a message.
    lease_secret: str = field(default="", repr=False)


@dataclass(frozen=True)
class Claimant:
    """The worker that claims: its id, its name, and the queues it serves. A step completing on it hands its
    released child on one of `hand_off_queues` to it directly (empty: every child goes through the broker)."""

    id: UUID | None
    name: str
    hand_off_queues: tuple[str, ...] = ()

    def params(self) -> dict[str, Any]:
        return {"worker": self.id, "worker_name": self.name}


def mint_lease_secret() -> tuple[str, str]:
    """A fresh per-attempt lease secret and the hash Postgres keeps of it (the secret itself is never stored)."""
    secret = secrets.token_urlsafe(32)
    return secret, lease_hash(secret)


def lease_hash(secret: str) -> str:
    """The hash of a lease secret as the claim stores it (sha256, hex): 256 random bits need no slow hash."""
    return hashlib.sha256(secret.encode()).hexdigest()


def claim(step_id: UUID | str, attempt: int, worker_id: UUID | None, worker_name: str) -> Claimed | None:
    """Compare-and-set QUEUED -> RUNNING for this attempt; None when the message is stale or a drain is on.

    One statement, so it is its own transaction (no BEGIN/COMMIT round trips) unless the caller has one open.
    """
    secret, hashed = mint_lease_secret()
    params = {"step": str(step_id), "attempt": attempt, "worker": worker_id, "worker_name": worker_name}
    rows = groupcommit.fetch(statements.CLAIM, {**params, "lease_hash": hashed})
    if not rows:
        return None
    claimed = _claimed(rows[0], secret)
    signals.after_commit_step_changed(claimed.run_id, claimed.step_id, StepStatus.RUNNING)
    return claimed


def _claimed(row: sql.Row, lease_secret: str) -> Claimed:
    """A row of statements.CLAIM (or HAND_OFF), by column name."""
    return Claimed(
        step_id=row["id"],
        run_id=row["run_id"],
        name=row["name"],
        action=row["action"],
        attempt=row["attempt"],
        retries=row["retries"],
        args=_json(row["args"]) or {},
        timeout_at=row["timeout_at"],
        workflow_name=row["workflow_name"],
        input=_json(row["input"]),
        metadata=_json(row["additional_metadata"]) or {},
        priority=row["priority"],
        parent_step_id=row["parent_step_id"],
        parent_outputs=_json(row["parent_outputs"]) or {},
        run_gated=row["run_gated"],
        run_steps=row["run_steps"],
        evictions=row["evictions"],
        lease_secret=lease_secret,
    )


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, (str, bytes)) else value


def _lock_run(run_id: UUID | str) -> WorkflowRun:
    try:
        return WorkflowRun.objects.select_for_update().get(id=run_id)
    except WorkflowRun.DoesNotExist:
        raise RunNotFoundError(f"no run with id {run_id}") from None


def _run_id_of(step_id: UUID | str) -> UUID | None:
    return StepRun.objects.filter(id=step_id).values_list("run_id", flat=True).first()


def _lock_run_of(step_id: UUID | str) -> UUID | None:
    """Inside a transaction: lock the run that owns the step and return its id (None: no such step)."""
    run_id = _run_id_of(step_id)
    if run_id is not None:
        _lock_run(run_id)
    return run_id


def _running_step(step_id: UUID | str, attempt: int) -> StepRun | None:
    return StepRun.objects.select_for_update().filter(id=step_id, attempt=attempt, status=StepStatus.RUNNING).first()


def _log_context(step: StepRun) -> dict[str, Any]:
    return {"run_id": str(step.run_id), "step": step.name, "step_id": str(step.id), "attempt": step.attempt}


def _end_attempt(step: StepRun, outcome: str, error: ErrorInfo | None = None) -> None:
    fields: dict[str, Any] = {"outcome": outcome, "finished_at": timezone.now()}
    if error is not None:
        fields.update(error_type=error.type, error_message=error.message, traceback=error.traceback)
    Attempt.objects.filter(step_id=step.id, number=step.attempt).update(**fields)


@dataclass(frozen=True)
class Completion:
    """A recorded output. `next`: the released child this worker claimed in the same transaction, if any."""

    next: Claimed | None = None


def complete(
    claimed: Claimed,
    output: Any,
    *,
    claimant: Claimant | None = None,
    on_hand_off: Callable[[UUID], None] | None = None,
) -> Completion | None:
    """Record the output of the attempt this process claimed (`claimed`: what the claim said of the step and its
    run decides how few statements the completion needs) and release the steps waiting on it. None if fenced."""
    return _complete(
        claimed.step_id,
        claimed.attempt,
        output,
        claimant=claimant,
        run_gated=claimed.run_gated,
        run_steps=claimed.run_steps,
        on_hand_off=on_hand_off,
        lock_order=str(claimed.run_id),  # the run this completion locks first (groupcommit's order)
    )


def complete_attempt(step_id: UUID | str, attempt: int, output: Any) -> Completion | None:
    """Record an output for attempt `attempt` of `step_id` without its claim at hand (tests, tools): the run's
    shape is then not known, so the completion takes the general path."""
    return _complete(step_id, attempt, output)


def _complete(
    step_id: UUID | str,
    attempt: int,
    output: Any,
    *,
    claimant: Claimant | None = None,
    run_gated: bool = True,
    run_steps: int = 0,
    on_hand_off: Callable[[UUID], None] | None = None,
    lock_order: str | None = None,
) -> Completion | None:
    """Record the output of a running attempt and release the steps waiting on it. None if fenced.

    The first statement locks the run (serialising the joins of parallel branches), fences and completes the
    step and its attempt, and counts down the join of each child (the Postgres-backed chord). The second
    settles the run if nothing can still run in it; it sees every branch that committed before the lock was
    granted. With a `claimant`, a third claims for it one released child on its queues: the hand-off skips
    the broker, and the claim commits with the completion.

    The statements go in one round trip. When no step of the run is gated (`run_gated`, known at claim), they
    are the whole transaction and that round trip commits it. Otherwise what gates.py must do for released
    children and slots happens in the same transaction, which then commits in a second round trip. A run of one
    step that is not gated (`run_steps`, `run_gated`: known at claim) is completed and settled by one statement.
    """
    params = {"step": str(step_id), "attempt": attempt, "output": _jsonb(output), "now": timezone.now()}
    if run_steps == 1 and not run_gated:  # a run of one step: one statement completes and settles it
        return _complete_alone(params, lock_order)
    pipeline = [(statements.COMPLETE, params), (statements.SETTLE_STEP_RUN, params)]
    if claimant is not None and claimant.hand_off_queues:
        secret, hashed = mint_lease_secret()
        hand_off = {"parent": str(step_id), "queues": list(claimant.hand_off_queues), "lease_hash": hashed}
        pipeline.append((statements.HAND_OFF, {**hand_off, **claimant.params()}))
    with transaction.atomic() if run_gated else nullcontext():  # outside one, the pipeline is a transaction
        rows, settle, *handed = groupcommit.fetch_pipelined(*pipeline, lock_order=lock_order)
        if not rows:
            return None
        run_id, step, step_gated = rows[0]["run_id"], rows[0]["step_id"], rows[0]["step_gated"]
        following = _claimed(handed[0][0], secret) if handed and handed[0] else None
        if following is not None and on_hand_off is not None:
            on_hand_off(following.step_id)
        if step_gated:
            admit_after_commit(gates.release_step(step), [run_id])
        handed_id = following.step_id if following is not None else None
        released = [Released.from_row(row) for row in rows if row["child_id"] is not None]
        _queue_released(run_id, [child for child in released if child.id != handed_id])
        _after_settle(run_id, settle[0]["settled"], settle[0]["gated"])
    signals.after_commit_step_changed(run_id, step, StepStatus.COMPLETED)
    if following is not None:
        signals.after_commit_step_changed(run_id, following.step_id, StepStatus.RUNNING)
    return Completion(following)


def _complete_alone(params: dict[str, Any], lock_order: str | None) -> Completion | None:
    rows = groupcommit.fetch(statements.COMPLETE_ALONE, params, lock_order)
    if not rows:
        return None
    run_id, step = rows[0]["run_id"], rows[0]["step_id"]
    signals.after_commit_step_changed(run_id, step, StepStatus.COMPLETED)
    signals.after_commit_run_changed(run_id)
    return Completion()


def _jsonb(value: Any) -> str | None:
    """A JSON value as the JSONField stores it: None is SQL NULL."""
    return None if value is None else json.dumps(value)


@dataclass(frozen=True)
class Released:
    """A child whose join a completion counted down (statements.COMPLETE's child_ columns)."""

    id: UUID
    attempt: int
    queue: str
    status: str
    gated: bool
    priority: int
    conditional: bool = False

    @classmethod
    def from_row(cls, row: sql.Row) -> Released:
        names = ("id", "attempt", "queue", "status", "gated", "priority", "conditional")
        return cls(*(row[f"child_{name}"] for name in names))


def _queue_released(run_id: UUID, children: list[Released]) -> None:
    """Children whose join just counted down: publish those now QUEUED after commit, or hold them for their
    gates."""
    queued = [child for child in children if child.status == StepStatus.QUEUED]
    conditional = [child.id for child in queued if child.conditional]
    if conditional:
        _register_conditions(conditional)
    queued = [child for child in queued if not child.conditional]
    dispatch_after_commit(Dispatch(c.id, c.attempt, c.queue, c.priority) for c in queued if not c.gated)
    gated = [child.id for child in queued if child.gated]
    if gated:
        _hold_for_gates(StepRun.objects.filter(id__in=gated), run_id)


def admit_after_commit(keys: set[str], run_ids: Iterable[UUID] = ()) -> None:
    """After this commit: admit what the keys' strategies allow (gates.py) and act on what they refuse."""
    runs = set(run_ids)
    if keys or runs:
        transaction.on_commit(lambda: admit(keys, runs))


def admit(keys: set[str], run_ids: Iterable[UUID] = ()) -> None:
    """Apply each key's strategy, cancel the runs and steps it refuses, then publish the gated steps now free
    to go (the scheduler's safety net calls it with gates.due() every tick)."""
    admission = gates.admit(keys)
    for refusal in admission.refused:
        if refusal.step_id is None:
            cancel_run(refusal.run_id, gates.CANCEL_REASON)
        else:
            cancel_step(refusal.step_id, gates.CANCEL_REASON)
    gates.release_ready(admission.touched | set(run_ids))


def _hold_for_gates(steps: Any, run_id: UUID, *, is_retry: bool = False) -> None:
    """Queued gated steps wait (no message) until gates.py admits them after this commit."""
    steps.update(available_at=None, **waits.enter(Event.QUEUED, gated=True, now=timezone.now()).fields())
    admit_after_commit(gates.add_step_slots(list(steps), is_retry=is_retry), [run_id])


def fail(
    step_id: UUID | str,
    attempt: int,
    error: ErrorInfo,
    *,
    retryable: bool = True,
    outcome: str = AttemptOutcome.FAILED,
) -> bool:
    """End a running attempt with an error: retry it with backoff while the budget lasts, else fail the step."""
    with transaction.atomic():
        run_id = _lock_run_of(step_id)
        if run_id is None:
            return False
        step = _running_step(step_id, attempt)
        if step is None:
            return False
        _end_attempt(step, outcome, error)
        if retryable and step.app_retry_count < step.retries:
            delay = backoff_delay(step.backoff_factor, step.backoff_max_seconds, step.app_retry_count + 1)
            _requeue(step, delay=delay, app_retry=True, error=error)
            status = StepStatus.QUEUED
        else:
            _fail_for_good(step, error)
            status = StepStatus.FAILED
    signals.after_commit_step_changed(run_id, step.id, status)
    return True


def _requeue(step: StepRun, *, delay: float, app_retry: bool, error: ErrorInfo | None) -> None:
    now = timezone.now()
    step.attempt += 1
    if app_retry:
        step.app_retry_count += 1
    else:
        step.internal_retry_count += 1
    step.status = StepStatus.QUEUED
    step.worker = None
    step.started_at = step.timeout_at = None
    step.queued_at = now
    wait = waits.enter(Event.RETRIED, gated=step.gated, now=now, delay=delay)
    step.waiting_for, step.due_at = wait.waiting_for, wait.due_at
    step.available_at = None if step.gated and delay > 0 else now + timedelta(seconds=delay)
    step.schedule_deadline = now + timedelta(seconds=delay + step.schedule_timeout)
    step.priority = RETRY_PRIORITY
    if error is not None:
        step.error, step.error_type = error.message, error.type
    step.save()
    if step.gated and delay > 0:  # it joins its gates' queues once the backoff is over (gates.tick)
        admit_after_commit(gates.release_step(step.id), [step.run_id])
    elif step.gated:
        gates.release_step(step.id)
        _hold_for_gates(StepRun.objects.filter(id=step.id), step.run_id, is_retry=True)
    elif delay == 0:
        dispatch_after_commit([Dispatch(step.id, step.attempt, step.queue, step.priority)])


def _fail_for_good(step: StepRun, error: ErrorInfo) -> None:
    step.status = StepStatus.FAILED
    step.error, step.error_type = error.message, error.type
    step.finished_at = timezone.now()
    step.save(update_fields=["status", "error", "error_type", "finished_at"])
    if step.gated:
        admit_after_commit(gates.release_step(step.id), [step.run_id])
    if settling.after_failure(step.continue_on_failure) == settling.Downstream.CONTINUE:
        _continue_past(step)
    else:
        _cancel_descendants(step.run_id, {step.name}, f"parent step {step.name!r} failed")
        _queue_on_failure(step.run_id)
    _finalize_if_done(step.run_id)


def _continue_past(step: StepRun) -> None:
    """Block or continue: the children of a step configured to continue on failure are released as if it had
    completed; the failure queues no on-failure step (engine/settling.py)."""
    rows = sql.fetch(statements.CONTINUE_PAST, {"step": str(step.id)})
    run = WorkflowRun.objects.only("continued_failures").get(id=step.run_id)  # locked by the caller
    run.continued_failures = [*(n for n in run.continued_failures if n != step.name), step.name]
    run.save(update_fields=["continued_failures"])
    logger.info("step failed and was continued past", extra=_log_context(step))
    _queue_released(step.run_id, [Released.from_row(row) for row in rows])


def lock_running(step_id: UUID | str, attempt: int) -> StepRun | None:
    """Inside a transaction: lock the step's run, then the step if attempt `attempt` of it is RUNNING."""
    if _lock_run_of(step_id) is None:
        return None
    return _running_step(step_id, attempt)


def evict(step: StepRun, wait: waits.Wait) -> None:
    """A durable task leaves its slot at a wait (engine/durable.py); `step` is locked by `lock_running`.

    The attempt ends EVICTED (no failure, no retry used: `evictions` counts it, so the task's retry count
    stays), the step is QUEUED in `wait` (sleep, event or condition) with no worker and no deadline: the wait's
    time counts neither toward the execution timeout nor toward the schedule timeout. `attempt` moves on, as
    the fencing token of the attempt that will replay the task once the wait is answered (`wake`)."""
    _end_attempt(step, AttemptOutcome.EVICTED)
    step.attempt += 1
    step.evictions += 1
    step.status = StepStatus.QUEUED
    step.worker = None
    step.started_at = step.timeout_at = step.schedule_deadline = None
    step.lease_hash = ""
    step.waiting_for, step.due_at = wait.waiting_for, wait.due_at
    step.save()
    logger.info("durable task evicted: %s until %s", wait.waiting_for, wait.due_at, extra=_log_context(step))
    signals.after_commit_step_changed(step.run_id, step.id, StepStatus.QUEUED)


def wake(step_ids: Iterable[UUID]) -> int:
    """Inside a transaction: evicted durable tasks whose wait was answered are queued again and published after
    commit (the drain's claim refuses them until resume). A step that is no longer waiting is left alone."""
    now = timezone.now()
    steps = StepRun.objects.filter(waits.DURABLE.q(), id__in=list(step_ids), status=StepStatus.QUEUED)
    woken = list(
        steps.select_for_update().values_list("id", "attempt", "queue", "priority", "run_id", "schedule_timeout")
    )
    for step_id, _attempt, _queue, _priority, _run_id, schedule_timeout in woken:
        StepRun.objects.filter(id=step_id).update(
            queued_at=now,
            available_at=now,
            schedule_deadline=now + timedelta(seconds=schedule_timeout),
            **waits.enter(Event.WOKEN, gated=False, now=now).fields(),
        )
    dispatch_after_commit(Dispatch(s, a, q, p) for s, a, q, p, _r, _t in woken)
    for step_id, _a, _q, _p, run_id, _t in woken:
        signals.after_commit_step_changed(run_id, step_id, StepStatus.QUEUED)
    return len(woken)


# --- a DAG task's conditions (engine/durable.py decides; these apply the decision) ----------------------------

# durable.register_conditions, which durable.py installs when it is imported (the engine app's ready() imports it):
# lifecycle calls it when a step with conditions is released, and durable calls lifecycle to apply what it decides.
_conditions_registrar: Callable[[list[UUID]], None] | None = None


def decide_conditions_with(registrar: Callable[[list[UUID]], None]) -> None:
    global _conditions_registrar
    _conditions_registrar = registrar


def _register_conditions(step_ids: list[UUID]) -> None:
    if _conditions_registrar is None:
        raise RuntimeError("engine/durable.py is not loaded: the engine app's ready() imports it")
    _conditions_registrar(step_ids)


def queue_waiting(step_id: UUID) -> bool:
    """Inside a transaction: a step whose conditions let it run is queued (gated: for its gates)."""
    now = timezone.now()
    step = StepRun.objects.select_for_update().filter(waits.DURABLE.q(), id=step_id, status=StepStatus.QUEUED).first()
    if step is None:
        return False
    step.queued_at = step.available_at = now
    step.schedule_deadline = now + timedelta(seconds=step.schedule_timeout)
    wait = waits.enter(Event.QUEUED, gated=step.gated, now=now)
    step.waiting_for, step.due_at = wait.waiting_for, wait.due_at
    step.save(update_fields=["queued_at", "available_at", "schedule_deadline", "waiting_for", "due_at"])
    if step.gated:
        _hold_for_gates(StepRun.objects.filter(id=step.id), step.run_id)
    else:
        dispatch_after_commit([Dispatch(step.id, step.attempt, step.queue, step.priority)])
    signals.after_commit_step_changed(step.run_id, step.id, StepStatus.QUEUED)
    return True


def skip(step_id: UUID, reason: str = "skipped by its skip_if condition") -> bool:
    """A step skipped by its conditions (or because every parent was skipped): COMPLETED with Hatchet's
    {"skipped": true}; its children are released as by a completion (a child all of whose parents were skipped
    is skipped in turn), and the run settles if nothing else can run."""
    with transaction.atomic():
        run_id = _lock_run_of(step_id)
        if run_id is None:
            return False
        step = StepRun.objects.select_for_update().filter(id=step_id, status=StepStatus.QUEUED).first()
        if step is None:
            return False
        now = timezone.now()
        step.status, step.output, step.finished_at = StepStatus.COMPLETED, SKIPPED_OUTPUT, now
        step.waiting_for, step.due_at = None, None
        step.save(update_fields=["status", "output", "finished_at", "waiting_for", "due_at"])
        if step.gated:
            admit_after_commit(gates.release_step(step.id), [run_id])
        logger.info("step skipped: %s", reason, extra=_log_context(step))
        signals.after_commit_step_changed(run_id, step.id, StepStatus.COMPLETED)
        _release_after_skip(run_id, step.name)
        _finalize_if_done(run_id)
    return True


def _release_after_skip(run_id: UUID, name: str) -> None:
    """Count down the join of the skipped step's children, as statements.COMPLETE does for a completion."""
    children = (
        StepRun.objects.select_for_update()
        .filter(run_id=run_id, status=StepStatus.PENDING, parents__contains=[name])
        .exclude(kind=StepKind.ON_FAILURE)
    )
    outputs = dict(StepRun.objects.filter(run_id=run_id).values_list("name", "output"))
    now = timezone.now()
    for child in children:
        child.pending_parents -= 1
        if child.pending_parents > 0:
            child.save(update_fields=["pending_parents"])
            continue
        child.status, child.queued_at = StepStatus.QUEUED, now
        every_parent_skipped = all(outputs.get(parent) == SKIPPED_OUTPUT for parent in child.parents)
        wait = waits.evicted(sleeps=True, events=True, until=None)  # decided just below
        child.waiting_for, child.due_at = wait.waiting_for, wait.due_at
        child.save(update_fields=["pending_parents", "status", "queued_at", "waiting_for", "due_at"])
        if every_parent_skipped:
            skip(child.id, "every parent was skipped")
        elif child.conditional:
            _register_conditions([child.id])
        else:
            queue_waiting(child.id)


def time_out(step_id: UUID | str, attempt: int) -> bool:
    """Fail a running attempt that passed its deadline; like any failure it uses a retry."""
    step = StepRun.objects.filter(id=step_id, attempt=attempt).values_list("execution_timeout", flat=True).first()
    if step is None:
        return False
    error = ErrorInfo("TimeoutError", f"Task exceeded timeout of {format_duration(step)}")
    timed_out = fail(step_id, attempt, error, outcome=AttemptOutcome.TIMED_OUT)
    if timed_out:
        logger.info("step timed out: %s", error.message, extra={"step_id": str(step_id), "attempt": attempt})
    return timed_out


def format_duration(seconds: float) -> str:
    """Whole seconds as Hatchet renders them: Nh, Nm or Ns."""
    whole = int(seconds)
    if whole and whole % 3600 == 0:
        return f"{whole // 3600}h"
    if whole and whole % 60 == 0:
        return f"{whole // 60}m"
    return f"{whole}s"


def reassign(step_id: UUID | str, attempt: int, reason: str) -> bool:
    """Re-queue a step whose worker died, without using its retries (capped by ENGINE_MAX_REASSIGNMENTS)."""
    with transaction.atomic():
        run_id = _lock_run_of(step_id)
        if run_id is None:
            return False
        step = _running_step(step_id, attempt)
        if step is None:
            return False
        error = ErrorInfo("WorkerLost", reason)
        _end_attempt(step, AttemptOutcome.REASSIGNED, error)
        logger.warning("step reassigned: %s", reason, extra=_log_context(step))
        if step.internal_retry_count < settings.ENGINE_MAX_REASSIGNMENTS:
            _requeue(step, delay=0, app_retry=False, error=None)
        else:
            _fail_for_good(step, ErrorInfo("WorkerLost", "Task reached its maximum reassignment count"))
    signals.after_commit_step_changed(run_id, step.id, step.status)
    return True


def refresh_timeout(step_id: UUID | str, attempt: int, seconds: float) -> Any:
    """Push the running attempt's deadline out by `seconds` (Hatchet adds to the current deadline)."""
    step = StepRun.objects.filter(id=step_id, attempt=attempt, status=StepStatus.RUNNING)
    step.update(timeout_at=_add_seconds("timeout_at", seconds))
    return step.values_list("timeout_at", flat=True).first()


def _add_seconds(field: str, seconds: float) -> Any:
    from django.db.models import F

    return F(field) + timedelta(seconds=seconds)


# --- cancellation -----------------------------------------------------------------------------------------


def cancel_run(run_id: UUID | str, reason: str = "cancelled by request") -> bool:
    """Cancel every unfinished step of a run. Running code sees it within a heartbeat and is stopped."""
    with transaction.atomic():
        run = _lock_run(run_id)
        names = set(
            StepRun.objects.filter(run_id=run.id)
            .exclude(status__in=TERMINAL_STEP_STATUSES)
            .exclude(kind=StepKind.ON_FAILURE)
            .values_list("name", flat=True)
        )
        if not names:
            return False
        _cancel(run.id, names, reason)
        _finalize_if_done(run.id)
    signals.after_commit_run_changed(run.id)
    return True


def cancel_step(step_id: UUID | str, reason: str = "cancelled by request") -> bool:
    """Cancel one step and everything downstream of it; independent branches go on."""
    with transaction.atomic():
        run_id = _lock_run_of(step_id)
        if run_id is None:
            return False
        step = StepRun.objects.filter(id=step_id).exclude(status__in=TERMINAL_STEP_STATUSES).first()
        if step is None:
            return False
        _cancel(run_id, {step.name}, reason)
        _cancel_descendants(run_id, {step.name}, f"parent step {step.name!r} was cancelled")
        _finalize_if_done(run_id)
    signals.after_commit_run_changed(run_id)
    return True


def time_out_schedule(step_id: UUID | str, attempt: int) -> bool:
    """A step that did not start within its schedule timeout is cancelled (Hatchet's SCHEDULING_TIMED_OUT)."""
    with transaction.atomic():
        run_id = _lock_run_of(step_id)
        if run_id is None:
            return False
        step = StepRun.objects.filter(waits.schedule_overdue(), id=step_id, attempt=attempt).first()
        if step is None:
            return False
        _cancel(run_id, {step.name}, "SCHEDULING_TIMED_OUT: the step did not start within its schedule timeout")
        _cancel_descendants(run_id, {step.name}, f"parent step {step.name!r} was cancelled")
        _finalize_if_done(run_id)
    signals.after_commit_run_changed(run_id)
    return True


def _cancel(run_id: UUID, names: Iterable[str], reason: str) -> None:
    steps = StepRun.objects.filter(run_id=run_id, name__in=list(names)).exclude(status__in=TERMINAL_STEP_STATUSES)
    for step in steps.select_for_update():
        if step.status == StepStatus.RUNNING:
            _end_attempt(step, AttemptOutcome.CANCELLED, ErrorInfo("Cancelled", reason))
        if step.gated:
            admit_after_commit(gates.release_step(step.id), [run_id])
    ended = waits.enter(Event.ENDED, gated=False, now=timezone.now())
    steps.update(
        status=StepStatus.CANCELLED, error=reason, error_type="Cancelled", finished_at=timezone.now(), **ended.fields()
    )


def _cancel_descendants(run_id: UUID, roots: set[str], reason: str) -> None:
    graph = {name: parents for name, parents in StepRun.objects.filter(run_id=run_id).values_list("name", "parents")}
    downstream = descendants(graph, roots)
    if downstream:
        _cancel(run_id, downstream, reason)


def _queue_on_failure(run_id: UUID) -> None:
    now = timezone.now()
    steps = StepRun.objects.filter(run_id=run_id, kind=StepKind.ON_FAILURE, status=StepStatus.PENDING)
    queued = [Dispatch(s.id, s.attempt, s.queue, s.priority) for s in steps]
    steps.update(
        status=StepStatus.QUEUED,
        queued_at=now,
        available_at=now,
        schedule_deadline=now + timedelta(seconds=300),
        **waits.enter(Event.QUEUED, gated=False, now=now).fields(),
    )
    dispatch_after_commit(queued)


def _finalize_if_done(run_id: UUID) -> None:
    """Inside a transaction that locked the run: settle it if no step of it can still run."""
    settle = sql.fetch(statements.SETTLE_RUN, {"run": run_id, "now": timezone.now()})
    _after_settle(run_id, settle[0]["settled"], settle[0]["gated"])


def _after_settle(run_id: UUID, settled: bool, gated: bool) -> None:
    if not settled:
        return
    if gated:
        admit_after_commit(gates.release_run(run_id))
    signals.after_commit_run_changed(run_id)


# --- retry and replay ---------------------------------------------------------------------------------------


def _restore_run_slots(run: WorkflowRun, steps: list[StepRun]) -> None:
    """A finished run gave its workflow-level slots back; running it again needs them again."""
    from sfpserver.engine.models import ConcurrencySlot

    keys: list[dict[str, Any]] = next((s.gates.get("run_concurrency", []) for s in steps if s.gated), [])
    if keys and not ConcurrencySlot.objects.filter(run_id=run.id, step__isnull=True).exists():
        ConcurrencySlot.objects.bulk_create(
            [ConcurrencySlot(key=k["key"], strategy=k["strategy"], max_runs=k["max_runs"], run_id=run.id) for k in keys]
        )
        admit_after_commit({k["key"] for k in keys}, [run.id])


def retry_failed(run_id: UUID | str) -> list[str]:
    """Re-run only the failed and cancelled steps of a finished run and what depends on them (a run completed
    past failed steps, block or continue, too)."""
    with transaction.atomic():
        run = _lock_run(run_id)
        continued = run.status == RunStatus.COMPLETED and bool(run.continued_failures)  # completed with failures
        if run.status not in (RunStatus.FAILED, RunStatus.CANCELLED) and not continued:
            raise InvalidStateError(f"run {run.id} is {run.status}; only a failed or cancelled run can be retried")
        steps = list(StepRun.objects.filter(run_id=run.id))
        roots = {s.name for s in steps if s.status in (StepStatus.FAILED, StepStatus.CANCELLED)}
        return _reset(run, steps, roots)


def replay_run(run_id: UUID | str) -> list[str]:
    """Re-run every step of a run (Hatchet's replay of a whole workflow run)."""
    with transaction.atomic():
        run = _lock_run(run_id)
        steps = list(StepRun.objects.filter(run_id=run.id))
        return _reset(run, steps, {s.name for s in steps if not s.parents})


def replay_step(step_id: UUID | str) -> list[str]:
    """Re-run one step and its subtree; the outputs of completed upstream steps are kept."""
    with transaction.atomic():
        run_id = _run_id_of(step_id)
        if run_id is None:
            raise RunNotFoundError(f"no step with id {step_id}")
        run = _lock_run(run_id)
        steps = list(StepRun.objects.filter(run_id=run.id))
        name = next(s.name for s in steps if str(s.id) == str(step_id))
        return _reset(run, steps, {name})


def _reset(run: WorkflowRun, steps: list[StepRun], roots: set[str]) -> list[str]:
    graph = {s.name: s.parents for s in steps}
    affected = roots | descendants(graph, roots) | {s.name for s in steps if s.kind == StepKind.ON_FAILURE}
    busy = [s.name for s in steps if s.name in affected and s.status in (StepStatus.RUNNING, StepStatus.QUEUED)]
    if busy:
        raise InvalidStateError(f"step(s) {', '.join(sorted(busy))} are still queued or running")
    done = {s.name for s in steps if s.status == StepStatus.COMPLETED and s.name not in affected}
    now = timezone.now()
    ready: list[Dispatch] = []
    conditional: list[UUID] = []
    for step in steps:
        if step.name not in affected:
            continue
        pending = sum(1 for parent in step.parents if parent not in done)
        queue_now = pending == 0 and step.kind != StepKind.ON_FAILURE
        step.attempt += 1
        step.app_retry_count = step.internal_retry_count = 0
        step.pending_parents = pending
        step.status = StepStatus.QUEUED if queue_now else StepStatus.PENDING
        step.output, step.error, step.error_type = None, "", ""
        step.worker = None
        step.started_at = step.timeout_at = step.finished_at = None
        step.queued_at = step.available_at = now if queue_now else None
        wait = waits.enter(Event.QUEUED if queue_now else Event.DEFERRED, gated=step.gated, now=now)
        if queue_now and step.conditional:  # its conditions decide again (durable.register_conditions)
            wait = waits.evicted(sleeps=True, events=True, until=None)
            conditional.append(step.id)
        step.waiting_for, step.due_at = wait.waiting_for, wait.due_at
        step.schedule_deadline = now + timedelta(seconds=step.schedule_timeout) if queue_now else None
        step.save()
        if queue_now and step.conditional:
            continue
        if queue_now and step.gated:
            _hold_for_gates(StepRun.objects.filter(id=step.id), run.id)
        elif queue_now:
            ready.append(Dispatch(step.id, step.attempt, step.queue, step.priority))
    _restore_run_slots(run, steps)
    if conditional:
        _register_conditions(conditional)
    run.status, run.output, run.error, run.finished_at = RunStatus.RUNNING, None, "", None
    run.continued_failures = [name for name in run.continued_failures if name not in affected]
    run.save(update_fields=["status", "output", "error", "finished_at", "continued_failures"])
    dispatch_after_commit(ready)
    signals.after_commit_run_changed(run.id)
    return sorted(affected)


# --- workflow pause (engine/pause.py) -------------------------------------------------------------------------


def hold_for_pause(workflow: str, queue_ttl: float) -> int:
    """A paused workflow's queued steps that no worker claimed yet wait for the unpause (a message already on the
    broker finds them paused and is dropped by the claim's fence). How many were held."""
    return len(sql.rows(statements.HOLD_FOR_PAUSE, {"workflow": workflow, "ttl": queue_ttl}))


def release_paused(step_id: UUID | str) -> bool:
    """The unpause of one held step: it queues as it would have (its gates, or the broker), and its schedule
    timeout starts again from now (Hatchet's re-queue does the same)."""
    with transaction.atomic():
        run_id = _lock_run_of(step_id)
        step = StepRun.objects.filter(waits.PAUSED.q(), id=step_id, status=StepStatus.QUEUED).first()
        if run_id is None or step is None:
            return False
        now = timezone.now()
        held = StepRun.objects.filter(id=step.id)
        held.update(schedule_deadline=now + timedelta(seconds=step.schedule_timeout))
        if step.gated:
            _hold_for_gates(held, run_id)
        else:
            held.update(available_at=now, **waits.enter(Event.UNPAUSED, gated=False, now=now).fields())
            dispatch_after_commit([Dispatch(step.id, step.attempt, step.queue, step.priority)])
    signals.after_commit_step_changed(run_id, step.id, StepStatus.QUEUED)
    return True


PAUSE_EXPIRED_REASON = "paused workflow queue item TTL expired"


def expire_paused(step_id: UUID | str) -> bool:
    """A step held by its workflow's pause past the queue TTL is cancelled, with what depends on it."""
    with transaction.atomic():
        run_id = _lock_run_of(step_id)
        step = StepRun.objects.filter(waits.PAUSE_EXPIRED.q(), id=step_id, status=StepStatus.QUEUED).first()
        if run_id is None or step is None:
            return False
        _cancel(run_id, {step.name}, PAUSE_EXPIRED_REASON)
        _cancel_descendants(run_id, {step.name}, f"parent step {step.name!r} was cancelled")
        _finalize_if_done(run_id)
    signals.after_commit_run_changed(run_id)
    return True
