"""Concurrency limits and rate limits, decided in Postgres at dispatch time.

A gated step waits for `gates` (engine/waits.py) until every concurrency slot it needs (its run's and its
own) is HOLDING and its rate limits have room; then it is published. Admission per key runs under a
transaction-level advisory lock on the key, after the commit that changed the key's slots, and again on
every scheduler tick. A refused slot is returned, for lifecycle.admit to cancel its run or step (this
module does not change a step's state). Strategies follow Hatchet (reference/hatchet-sdk.md §1.16).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from sfpserver.engine import sql, statements, waits
from sfpserver.engine.dispatch import Dispatch, publish
from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.expressions import evaluate
from sfpserver.engine.models import (
    ConcurrencySlot,
    RateLimitBucket,
    RateLimitUse,
    SlotState,
    StepRun,
)

logger = logging.getLogger(__name__)

CANCEL_REASON = "Cancelled due to concurrency strategy"


@dataclass(frozen=True)
class Key:
    key: str
    max_runs: int
    strategy: str


def evaluate_keys(scope: str, specs: Iterable[Mapping[str, Any]], variables: Mapping[str, Any]) -> list[Key]:
    keys = []
    for index, spec in enumerate(specs):
        value = evaluate(spec["expression"], variables, field="concurrency.expression")
        max_runs = spec["max_runs"]
        if isinstance(max_runs, str):
            max_runs = evaluate(max_runs, variables, field="concurrency.max_runs")
        if not isinstance(max_runs, int) or max_runs <= 0:
            raise InvalidWorkflowError("concurrency.max_runs", f"must be a whole number > 0, got {max_runs!r}")
        prefix = f"shared:{spec['name']}" if spec.get("is_tenant_scoped") else f"{scope}:{index}"
        keys.append(Key(f"{prefix}:{value}", max_runs, spec["strategy"]))
    return keys


def evaluate_rate_limits(specs: Iterable[Mapping[str, Any]], variables: Mapping[str, Any]) -> list[dict[str, Any]]:
    limits = []
    for spec in specs:
        units = spec.get("units", 1)
        if isinstance(units, str):
            units = evaluate(units, variables, field="rate_limits.units")
        if spec.get("static_key"):
            limits.append({"key": spec["static_key"], "units": int(units), "limit": None, "window": None})
            continue
        key = evaluate(spec["dynamic_key"], variables, field="rate_limits.dynamic_key")
        limit = spec.get("limit")
        if isinstance(limit, str):
            limit = evaluate(limit, variables, field="rate_limits.limit")
        if not isinstance(limit, int):
            raise InvalidWorkflowError("rate_limits.limit", f"must evaluate to a whole number, got {limit!r}")
        limits.append({"key": str(key), "units": int(units), "limit": limit, "window": spec["window_seconds"]})
    return limits


# --- slots ------------------------------------------------------------------------------------------------


def add_step_slots(steps: Iterable[StepRun], *, is_retry: bool = False) -> set[str]:
    """Create WAITING slots for gated steps that just became QUEUED; returns the keys to admit."""
    slots = [
        ConcurrencySlot(
            key=k["key"],
            strategy=k["strategy"],
            max_runs=k["max_runs"],
            run_id=step.run_id,
            step_id=step.id,
            is_retry=is_retry,
        )
        for step in steps
        for k in step.gates.get("concurrency", [])
    ]
    ConcurrencySlot.objects.bulk_create(slots)
    return {s.key for s in slots}


def release_step(step_id: UUID) -> set[str]:
    slots = ConcurrencySlot.objects.filter(step_id=step_id)
    keys = set(slots.values_list("key", flat=True))
    slots.delete()
    return keys


def release_run(run_id: UUID) -> set[str]:
    slots = ConcurrencySlot.objects.filter(run_id=run_id)
    keys = set(slots.values_list("key", flat=True))
    slots.delete()
    return keys


# --- admission --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """A slot a strategy refused: lifecycle cancels its run (a workflow-level slot) or its step."""

    run_id: UUID
    step_id: UUID | None


@dataclass(frozen=True)
class Admission:
    refused: list[Refusal]
    touched: set[UUID]  # runs whose slots were granted: release_ready publishes what is free to go


def admit(keys: set[str]) -> Admission:
    """Apply each key's strategy under the key's advisory lock: hold what it admits, return what it refuses.
    lifecycle.admit cancels the refusals, then releases the ready steps."""
    touched: set[UUID] = set()
    refused: list[Refusal] = []
    for key in sorted(keys):
        with transaction.atomic():
            sql.rows(statements.KEY_LOCK, {"key": key})
            held, refusing = _decide(key)
            ConcurrencySlot.objects.filter(id__in=[s.id for s in held]).update(state=SlotState.HOLDING)
            refused.extend(Refusal(s.run_id, s.step_id) for s in refusing)
            touched.update(s.run_id for s in held)
    return Admission(refused, touched)


def _decide(key: str) -> tuple[list[ConcurrencySlot], list[ConcurrencySlot]]:
    slots = list(ConcurrencySlot.objects.filter(key=key).order_by("id"))
    if not slots:
        return [], []
    return decide(slots[-1].strategy, slots[-1].max_runs, slots)


class SlotLike(Protocol):
    id: Any
    state: str
    is_retry: bool


S = TypeVar("S", bound=SlotLike)


def decide(strategy: str, max_runs: int, slots: Sequence[S]) -> tuple[list[S], list[S]]:
    """Which WAITING slots of a key to hold and which slots (waiting or held) to refuse; `slots` in arrival order.
    Pure: Hatchet's seven strategies (tests/engine/test_decisions.py)."""
    holding = [s for s in slots if s.state == SlotState.HOLDING]
    waiting = sorted((s for s in slots if s.state == SlotState.WAITING), key=lambda s: (not s.is_retry, s.id))
    free = max(0, max_runs - len(holding))
    if strategy == "CANCEL_IN_PROGRESS":
        keep = list(slots[-max_runs:])
        return [s for s in keep if s.state == SlotState.WAITING], [s for s in slots if s not in keep]
    if strategy == "CANCEL_NEWEST":
        return waiting[:free], waiting[free:]
    if strategy in ("CANCEL_QUEUED_EXCEPT_NEWEST", "CANCEL_QUEUED_EXCEPT_OLDEST"):
        if not waiting:
            return [], []
        by_arrival = sorted(waiting, key=lambda s: s.id)
        kept = by_arrival[-1] if strategy.endswith("NEWEST") else by_arrival[0]
        refused = [s for s in waiting if s is not kept]
        return ([kept] if free else []), refused
    if strategy == "QUEUE_NEWEST":
        return sorted(waiting, key=lambda s: s.id, reverse=True)[:free], []
    return waiting[:free], []  # GROUP_ROUND_ROBIN, QUEUE_OLDEST


# --- dispatch of gated steps -----------------------------------------------------------------------------


def release_ready(run_ids: Iterable[UUID]) -> int:
    """Publish the gated QUEUED steps of these runs whose slots are all held and whose rate limits allow."""
    ready: list[Dispatch] = []
    with transaction.atomic():
        waiting = StepRun.objects.select_for_update(skip_locked=True).filter(
            waits.AT_GATES.q(), run_id__in=list(run_ids)
        )
        for step in waiting:
            if _slots_held(step) and _take_rate_limits(step):
                now = timezone.now()
                admitted = waits.enter(waits.Event.ADMITTED, gated=True, now=now)
                StepRun.objects.filter(id=step.id).update(available_at=now, **admitted.fields())
                ready.append(Dispatch(step.id, step.attempt, step.queue, step.priority))
    if ready:
        publish(ready)
    return len(ready)


def _slots_held(step: StepRun) -> bool:
    slots = ConcurrencySlot.objects.filter(run_id=step.run_id).filter(
        step_id__isnull=True
    ) | ConcurrencySlot.objects.filter(step_id=step.id)
    return not slots.exclude(state=SlotState.HOLDING).exists()


def _take_rate_limits(step: StepRun) -> bool:
    """Consume the step's units if every one of its rate limits has room now (else it waits, not fails)."""
    limits = step.gates.get("rate_limits", [])
    now = timezone.now()
    for limit in limits:
        bucket = _bucket(limit)
        if bucket is None:
            continue
        sql.rows(statements.KEY_LOCK, {"key": "rl:" + bucket.key})
        since = now - timedelta(seconds=bucket.window_seconds)
        used = RateLimitUse.objects.filter(key=bucket.key, at__gt=since).aggregate(total=Sum("units"))["total"] or 0
        if used + limit["units"] > bucket.limit:
            return False
    RateLimitUse.objects.bulk_create([RateLimitUse(key=lim["key"], units=lim["units"], at=now) for lim in limits])
    return True


def _bucket(limit: Mapping[str, Any]) -> RateLimitBucket | None:
    if limit["limit"] is None:
        return RateLimitBucket.objects.filter(key=limit["key"]).first()
    bucket, _ = RateLimitBucket.objects.update_or_create(
        key=limit["key"], defaults={"limit": limit["limit"], "window_seconds": limit["window"]}
    )
    return bucket


def _retries_due() -> tuple[set[str], set[UUID]]:
    """Gated retries whose backoff is over join their gates' queues (as Hatchet re-queues a retry when due)."""
    with transaction.atomic():
        due = list(StepRun.objects.select_for_update(skip_locked=True).filter(waits.GATED_BACKOFF_OVER.q())[:500])
        joined = waits.enter(waits.Event.BACKOFF_OVER, gated=True, now=timezone.now())
        StepRun.objects.filter(id__in=[step.id for step in due]).update(**joined.fields())
        keys = add_step_slots(due, is_retry=True)
    return keys, {step.run_id for step in due}


def due() -> tuple[set[str], set[UUID]]:
    """For the scheduler's safety net (lifecycle.admit): every key with waiting slots and every run with steps at
    its gates, after gated retries past their backoff joined them. Also drops rate-limit uses a year old."""
    retried_keys, retried_runs = _retries_due()
    keys = set(ConcurrencySlot.objects.filter(state=SlotState.WAITING).values_list("key", flat=True))
    runs = set(StepRun.objects.filter(waits.AT_GATES.q()).values_list("run_id", flat=True)[:500])
    RateLimitUse.objects.filter(at__lt=timezone.now() - timedelta(days=366)).delete()
    return keys | retried_keys, runs | retried_runs
