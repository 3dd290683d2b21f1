"""Durable tasks: each step's log of waits and remembered values (models.StepWait), replayed in order.

A durable task's every wait (sleep, event, conditions) and remembered value (memo, now, a spawned child) takes the
next index of its step's log. A call finds the entry at its index (conditions.replay): the same entry answered
gives its stored result; a different one is non-determinism (the caller raises it in the task); none is
recorded. A wait not answered at once is waited out in the slot for at most the task's `evict_after` seconds
(polled here), then the attempt is EVICTED (lifecycle.evict): the slot frees, the step waits in Postgres
(waiting as sleep/event/condition until the first sleep's deadline, waits.evicted), and `wake` queues it again once the
leader's timer (`satisfy_due`) or a pushed event (`deliver`) answers the wait. The woken step runs on any worker
and replays. While a drain is on, a wait evicts at once, so a drain that times out leaves durable tasks waiting
in Postgres, to resume after `resume`.

Every answer is written in the transaction that decides it, with the row locked: a wait is answered once, and a
step is woken at most once per eviction (its attempt fences the message). Lock order: the run, the wait, the
step (the timer and the push take the wait, then the step).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from sfpserver.engine import conditions as cnf
from sfpserver.engine import drain, lifecycle, waits
from sfpserver.engine.conditions import Condition, EventFact, Recorded, Replay
from sfpserver.engine.models import StepRun, StepStatus, StepWait, WaitKind

logger = logging.getLogger(__name__)

BATCH = 500
MAX_KEY = 500

# Finds events pushed before a wait that may count for it (a condition with `since`): newest first.
Lookback = Callable[[Condition], Sequence[EventFact]]


@dataclass(frozen=True)
class Outcome:
    """What a durable call gets: `answered` with `result`; `waiting` (wait `wait_id`, in the slot); `evicted`
    (the attempt ended: the task stops); `diverged` (the log holds `recorded` at the index); `fenced` (the
    attempt is no longer current: the task stops)."""

    state: str
    result: Any = None
    wait_id: int | None = None
    recorded: tuple[str, str] | None = None  # diverged: (kind, key) in the log ...
    asked: tuple[str, str] | None = None  # ... and (kind, key) the replay asked for

    @property
    def answered(self) -> bool:
        return self.state == "answered"


FENCED = Outcome("fenced")
EVICTED = Outcome("evicted")


def entry_key(kind: str, conditions: Sequence[Condition] = (), key: str | None = None) -> str:
    """The key a replay must ask again at an index: `key` (memo, spawn) or the conditions' signature."""
    text = key if key is not None else cnf.signature(kind, conditions)
    if len(text) <= MAX_KEY:
        return text
    return text[: MAX_KEY - 65] + ":" + hashlib.sha256(text.encode()).hexdigest()


def _recorded(row: StepWait | None) -> Recorded | None:
    return None if row is None else Recorded(row.kind, row.key, row.satisfied_at is not None)


def _entry(step_id: UUID | str, index: int) -> StepWait | None:
    return StepWait.objects.select_for_update().filter(step_id=UUID(str(step_id)), index=index).first()


def wait(
    step_id: UUID | str,
    attempt: int,
    index: int,
    kind: str,
    conditions: list[Condition],
    *,
    lookback: Lookback | None = None,
    evict_now: bool = False,
) -> Outcome:
    """The durable wait at `index`: answered from the log or at once (a passed sleep, an event found by a lookback),
    else waiting in the slot, or (with `evict_now`, or while a drain is on) evicted."""
    key = entry_key(kind, conditions)
    with transaction.atomic():
        step = lifecycle.lock_running(step_id, attempt)
        if step is None:
            return FENCED
        row = _entry(step_id, index)
        decision = cnf.replay(_recorded(row), kind, key)
        if decision == Replay.DIVERGED:
            assert row is not None
            return Outcome("diverged", recorded=(row.kind, row.key), asked=(kind, key))
        if decision == Replay.ANSWER:
            assert row is not None
            return Outcome("answered", row.result)
        if row is None:
            row = _record(step_id, index, kind, key, conditions, lookback)
        else:
            _pass_time(row, timezone.now())
        if row.satisfied_at is not None:
            return Outcome("answered", row.result)
        if evict_now or drain.is_draining():
            _evict(step, row)
            return EVICTED
        return Outcome("waiting", wait_id=row.id)


def _record(
    step_id: UUID | str, index: int, kind: str, key: str, conditions: list[Condition], lookback: Lookback | None
) -> StepWait:
    now = timezone.now()
    row = StepWait(step_id=step_id, index=index, kind=kind, key=key, conditions=conditions, created_at=now)
    if lookback is not None:
        for condition in conditions:
            if condition["kind"] == "event" and condition.get("since"):
                for event in lookback(condition):
                    if cnf.offer_event(row.conditions, event, now):
                        break
    cnf.pass_time(row.conditions, now)
    _settle_row(row, now)
    row.save()
    return row


def _settle_row(row: StepWait, now: datetime) -> None:
    """Derive the row's answer, due time and open event keys from its conditions."""
    if cnf.answered(row.conditions):
        row.satisfied_at, row.result = now, cnf.result(row.conditions)
        row.wake_at, row.event_keys = None, []
    else:
        row.wake_at, row.event_keys = cnf.next_deadline(row.conditions), cnf.open_event_keys(row.conditions)


def _pass_time(row: StepWait, now: datetime) -> None:
    if row.satisfied_at is None and cnf.pass_time(row.conditions, now):
        _settle_row(row, now)
        row.save(update_fields=["conditions", "wake_at", "event_keys", "satisfied_at", "result"])


def _evict(step: Any, row: StepWait) -> None:
    sleeps, events = cnf.has_open(row.conditions, "sleep"), cnf.has_open(row.conditions, "event")
    lifecycle.evict(step, waits.evicted(sleeps=sleeps, events=events or not sleeps, until=row.wake_at))


@dataclass(frozen=True)
class Poll:
    result: Any = None
    answered: bool = False
    draining: bool = False


def poll(wait_id: int) -> Poll:
    """A wait waited out in the slot: answer its sleeps that are due; is it answered, is a drain on?"""
    with transaction.atomic():
        row = StepWait.objects.select_for_update().filter(id=wait_id).first()
        if row is None:
            return Poll()
        _pass_time(row, timezone.now())
        answered = row.satisfied_at is not None
    return Poll(row.result, answered, not answered and drain.is_draining())


def evict_at(step_id: UUID | str, attempt: int, wait_id: int) -> Outcome:
    """Leave the slot at wait `wait_id` (its time in the slot is up, or a drain is on), unless it was answered."""
    with transaction.atomic():
        step = lifecycle.lock_running(step_id, attempt)
        if step is None:
            return FENCED
        row = StepWait.objects.select_for_update().get(id=wait_id)
        _pass_time(row, timezone.now())
        if row.satisfied_at is not None:
            return Outcome("answered", row.result)
        _evict(step, row)
        return EVICTED


def remember(
    step_id: UUID | str,
    attempt: int,
    index: int,
    kind: str,
    key: str,
    value: Callable[[], Any],
    *,
    occurrence: int | None = None,
) -> Outcome:
    """A remembered value at `index` (now, a spawn): the recorded one, or `value()` recorded. With `occurrence`
    (spawns), the entry is the occurrence-th one of the same key wherever it sits in the log: branches that
    spawn concurrently (asyncio.gather) may reach their spawns in another order on replay."""
    key = entry_key(kind, key=key)
    with transaction.atomic():
        if lifecycle.lock_running(step_id, attempt) is None:
            return FENCED
        row = _entry(step_id, index)
        if occurrence is not None:
            same = StepWait.objects.filter(step_id=UUID(str(step_id)), kind=kind, key=key, index__gte=0)
            found = list(same.order_by("index")[occurrence : occurrence + 1])
            if found:
                return Outcome("answered", found[0].result)
        decision = cnf.replay(_recorded(row), kind, key)
        if decision == Replay.DIVERGED:
            assert row is not None
            return Outcome("diverged", recorded=(row.kind, row.key), asked=(kind, key))
        if decision == Replay.ANSWER:
            assert row is not None
            return Outcome("answered", row.result)
        now = timezone.now()
        result = value()
        StepWait.objects.update_or_create(
            step_id=step_id,
            index=index,
            defaults={"kind": kind, "key": key, "created_at": now, "satisfied_at": now, "result": result},
        )
        return Outcome("answered", result)


def lookup(step_id: UUID | str, attempt: int, index: int, kind: str, key: str) -> Outcome:
    """A memo's entry, if answered; `waiting` when there is none yet (the caller computes, then `remember`s)."""
    key = entry_key(kind, key=key)
    row = StepWait.objects.filter(step_id=UUID(str(step_id)), index=index).first()
    decision = cnf.replay(_recorded(row), kind, key)
    if decision == Replay.DIVERGED:
        assert row is not None
        return Outcome("diverged", recorded=(row.kind, row.key), asked=(kind, key))
    if decision == Replay.ANSWER:
        assert row is not None
        return Outcome("answered", row.result)
    return Outcome("waiting")


# --- answering: the timer and the events ----------------------------------------------------------------------


def satisfy_due(batch: int = BATCH) -> int:
    """The leader's timer: answer the sleeps that are due, and wake the evicted tasks whose wait is answered."""
    now = timezone.now()
    register_lost_conditions()
    with transaction.atomic():
        rows = list(
            StepWait.objects.select_for_update(skip_locked=True)
            .filter(satisfied_at__isnull=True, wake_at__lte=now)
            .order_by("wake_at")[:batch]
        )
        for row in rows:
            _pass_time(row, now)
        _answered([row for row in rows if row.satisfied_at is not None])
    return len(rows)


def _answered(rows: Iterable[StepWait]) -> None:
    """After waits were answered: wake the durable tasks, decide the DAG tasks waiting on conditions."""
    rows = list(rows)
    lifecycle.wake(row.step_id for row in rows if row.index >= 0)
    for step_id in dict.fromkeys(row.step_id for row in rows if row.index < 0):
        decide(step_id)


def deliver(event: EventFact) -> int:
    """Inside the transaction that records `event`: answer the waits it matches and wake their tasks; how many
    waits it matched. A wait registered after the event was pushed does not see it (unless it looks back)."""
    now = timezone.now()
    matched: list[StepWait] = []
    candidates = StepWait.objects.select_for_update().filter(
        satisfied_at__isnull=True, event_keys__contains=[event.key]
    )
    for row in candidates.order_by("created_at"):
        if cnf.offer_event(row.conditions, event, row.created_at):
            _settle_row(row, now)
            row.save(update_fields=["conditions", "wake_at", "event_keys", "satisfied_at", "result"])
            matched.append(row)
    _answered(row for row in matched if row.satisfied_at is not None)
    if matched:
        logger.info("event %s answered %d wait(s)", event.key, len(matched), extra={"event_key": event.key})
    return len(matched)


# --- a DAG task's conditions: wait_for, skip_if, cancel_if ---------------------------------------------------

# The rows of a task's conditions sit below its log's indices (a durable task may have both).
CONDITION_INDEX = {WaitKind.CANCEL_IF: -3, WaitKind.SKIP_IF: -2, WaitKind.WAIT_FOR: -1}
CANCEL_REASON = "cancelled by its cancel_if condition"
LOST_AFTER = 10.0  # seconds: a released step's conditions are registered right after its release commits


def register_conditions(step_ids: Iterable[UUID]) -> None:
    """Inside a transaction: steps whose parents are done (or roots) and that have conditions. Each action's
    conditions become a row (a sleep due from now, a parent condition judged on the parent's output now), then
    `decide` cancels, skips, queues the step or leaves it waiting (status QUEUED, waiting as sleep/event/
    condition) for the timer or an event (`_answered`)."""
    now = timezone.now()
    with transaction.atomic():  # the caller's, when it has one (a completion without gates has none)
        for step in StepRun.objects.filter(id__in=list(step_ids), conditional=True):
            StepWait.objects.filter(step_id=step.id, index__lt=0).delete()  # a replay registers them afresh
            outputs = dict(StepRun.objects.filter(run_id=step.run_id).values_list("name", "output"))
            for action, index in CONDITION_INDEX.items():
                found = step.conditions.get(action.value) or []
                if not found:
                    continue
                conditions = [cnf.at(condition, now, outputs) for condition in found]
                row = StepWait(step_id=step.id, index=index, kind=action, key=action.value, created_at=now)
                row.conditions = conditions
                _settle_row(row, now)
                row.save()
            decide(step.id)


def decide(step_id: UUID) -> None:
    """Apply what a step's conditions say now (conditions.dag_decision)."""
    rows = {row.kind: row for row in StepWait.objects.select_for_update().filter(step_id=step_id, index__lt=0)}
    answered = {kind: row.satisfied_at is not None for kind, row in rows.items()}
    decision = cnf.dag_decision(answered)
    if decision == cnf.Dag.WAIT:
        open_rows = [row for row in rows.values() if row.satisfied_at is None]
        due = min((row.wake_at for row in open_rows if row.wake_at is not None), default=None)
        sleeps = any(cnf.has_open(row.conditions, "sleep") for row in open_rows)
        events = any(cnf.has_open(row.conditions, "event") for row in open_rows)
        StepRun.objects.filter(waits.DURABLE.q(), id=step_id).update(
            **waits.evicted(sleeps=sleeps, events=events or not sleeps, until=due).fields()
        )
        return
    StepWait.objects.filter(step_id=step_id, index__lt=0, satisfied_at__isnull=True).update(
        wake_at=None, event_keys=[]
    )  # decided: what is still open no longer listens
    if decision == cnf.Dag.CANCEL:
        lifecycle.cancel_step(step_id, CANCEL_REASON)
    elif decision == cnf.Dag.SKIP:
        lifecycle.skip(step_id)
    else:
        lifecycle.queue_waiting(step_id)


def register_lost_conditions(batch: int = BATCH) -> int:
    """The timer's safety net: steps released to their conditions whose rows a crash kept from being written."""
    lost = list(
        StepRun.objects.filter(waits.DURABLE.q(), conditional=True, status=StepStatus.QUEUED)
        .filter(queued_at__lt=timezone.now() - timedelta(seconds=LOST_AFTER))
        .exclude(waits__index__lt=0)
        .values_list("id", flat=True)[:batch]
    )
    if lost:
        with transaction.atomic():
            register_conditions(lost)
    return len(lost)


def forget_from(step_ids: Iterable[UUID], node_id: int) -> int:
    """Hatchet's reset of a durable task at `node_id` (1-based): its log from that node on is forgotten, so the
    replay that follows answers the nodes before it from the record and runs the rest again."""
    return StepWait.objects.filter(step_id__in=list(step_ids), index__gte=max(node_id - 1, 0)).delete()[0]


def log_of(step_ids: Iterable[UUID]) -> dict[UUID, list[StepWait]]:
    """The durable log of each step (for the run detail)."""
    found: dict[UUID, list[StepWait]] = {}
    for row in StepWait.objects.filter(step_id__in=list(step_ids)).order_by("step_id", "index"):
        found.setdefault(row.step_id, []).append(row)
    return found


lifecycle.decide_conditions_with(register_conditions)  # lifecycle calls it when such a step is released
