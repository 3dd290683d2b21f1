"""What an unfinished step waits for: one column, `waiting_for`, and one time, `due_at` (models.WaitingFor).

The rule of which wait follows which event is `after()`; its table, with the time each wait is due:

    event        a gated step    an ungated step   due_at
    DEFERRED     parents         parents           NULL
    QUEUED       gates           delivered         gates: NULL; delivered: now (published after commit)
    RETRIED      backoff         backoff           now + the backoff delay (QUEUED when there is none)
    BACKOFF_OVER gates           delivered         as QUEUED (an ungated retry is published by the sweeper)
    PAUSED       paused          paused            now + the pause's queue TTL (cancelled then if still paused)
    UNPAUSED     gates           delivered         as QUEUED
    ADMITTED     delivered       delivered         now
    UNDELIVERED  broker          broker            now (publishing failed, or a drain refused the claim)
    STARTED      NULL            NULL              NULL (claimed: RUNNING)
    EVICTED      sleep/event/    (same)            the earliest open sleep deadline (NULL: events only)
                 condition                         (a durable task left its slot at a wait: `evicted()`)
    WOKEN        delivered       delivered         now (its wait was answered; published after commit)
    ENDED        NULL            NULL              NULL (completed, failed, cancelled)

Every write of the two columns takes its values from here, as model fields (`enter`) or as SQL (`values_sql`),
and is made by engine/lifecycle.py, or by a statement of statements.py that takes its SET from here (the
sweeper, the drain's push-back). Every read goes through a `Predicate`, which gives the same condition as an ORM
`Q` and as an SQL fragment. A leaf module: it imports nothing of the engine but its models.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from django.db.models import Q
from django.db.models.functions import Now

from sfpserver.engine.models import WaitingFor


class Event(StrEnum):
    DEFERRED = "deferred"  # created or reset with parents still to finish
    QUEUED = "queued"  # runnable now: a root at trigger, parents done, a retry without delay, a reset
    RETRIED = "retried"  # a retry with a backoff delay
    BACKOFF_OVER = "backoff_over"
    PAUSED = "paused"  # runnable, but its workflow is paused (engine/pause.py)
    UNPAUSED = "unpaused"  # its workflow was unpaused
    ADMITTED = "admitted"  # its gates let it go
    UNDELIVERED = "undelivered"  # no message on the broker: publishing failed, or a drain refused the claim
    STARTED = "started"
    ENDED = "ended"
    EVICTED = "evicted"  # a durable task left its slot at a wait that is not answered yet (engine/durable.py)
    WOKEN = "woken"  # the wait of an evicted durable task was answered (a sleep's timer or an event)


def after(event: Event, *, gated: bool, delay: float = 0.0) -> WaitingFor | None:
    """The wait a step enters on `event` (None: it is not waiting: running or ended). Not EVICTED: `evicted()`."""
    if event == Event.EVICTED:
        raise ValueError("an eviction's wait depends on its conditions: use waits.evicted()")
    if event == Event.RETRIED and delay > 0:
        return WaitingFor.BACKOFF
    if event in (Event.QUEUED, Event.RETRIED, Event.BACKOFF_OVER, Event.UNPAUSED):
        return WaitingFor.GATES if gated else WaitingFor.DELIVERED
    return _FIXED[event]


_FIXED: dict[Event, WaitingFor | None] = {
    Event.DEFERRED: WaitingFor.PARENTS,
    Event.PAUSED: WaitingFor.PAUSED,
    Event.ADMITTED: WaitingFor.DELIVERED,
    Event.UNDELIVERED: WaitingFor.BROKER,
    Event.STARTED: None,
    Event.ENDED: None,
    Event.WOKEN: WaitingFor.DELIVERED,
}
_DUE_NOW = (WaitingFor.BROKER, WaitingFor.DELIVERED)


@dataclass(frozen=True)
class Wait:
    waiting_for: WaitingFor | None
    due_at: datetime | None

    def fields(self) -> dict[str, Any]:
        """As keyword arguments of a model's constructor or of `QuerySet.update`."""
        return {"waiting_for": self.waiting_for, "due_at": self.due_at}

    def apply(self, step: Any) -> None:
        """Set it on a step not saved yet (a trigger's rows before they are copied in)."""
        step.waiting_for, step.due_at = self.waiting_for, self.due_at


def enter(event: Event, *, gated: bool, now: datetime, delay: float = 0.0) -> Wait:
    """The wait after `event`, with its due time (`delay`: a retry's backoff, or a pause's queue TTL)."""
    waiting_for = after(event, gated=gated, delay=delay)
    if waiting_for in (WaitingFor.BACKOFF, WaitingFor.PAUSED):
        return Wait(waiting_for, now + timedelta(seconds=delay))
    return Wait(waiting_for, now if waiting_for in _DUE_NOW else None)


def evicted(*, sleeps: bool, events: bool, until: datetime | None) -> Wait:
    """The wait of a durable task evicted at a wait with open sleeps and/or events (Event.EVICTED)."""
    if sleeps and events:
        return Wait(WaitingFor.CONDITION, until)
    return Wait(WaitingFor.SLEEP if sleeps else WaitingFor.EVENT, until if sleeps else None)


def _literal(value: WaitingFor | None) -> str:
    return "NULL" if value is None else f"'{value.value}'"


def values_sql(event: Event, *, gated: str = "gated", now: str = "now()") -> tuple[str, str]:
    """SQL expressions for (waiting_for, due_at) after `event` (not RETRIED with a delay nor PAUSED: their due
    times are computed apart); `gated` is the SQL of the step's gated flag. The same rule as `enter`."""
    if_gated, if_not = after(event, gated=True), after(event, gated=False)
    due = {value: (now if value in _DUE_NOW else "NULL") for value in (if_gated, if_not)}
    if if_gated == if_not:
        return _literal(if_gated), due[if_gated]
    waiting_for = f"CASE WHEN {gated} THEN {_literal(if_gated)} ELSE {_literal(if_not)} END"
    due_at = due[if_gated] if due[if_gated] == due[if_not] else f"CASE WHEN {gated} THEN NULL ELSE {now} END"
    return waiting_for, due_at


def set_sql(event: Event, *, gated: str = "gated", now: str = "now()") -> str:
    """The SET list of an UPDATE that applies `event`."""
    waiting_for, due_at = values_sql(event, gated=gated, now=now)
    return f"waiting_for = {waiting_for}, due_at = {due_at}"


# --- reading ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Predicate:
    """Steps in one of `waits`; of gated (or ungated) steps only; due (due_at passed) only."""

    waits: tuple[WaitingFor, ...]
    gated: bool | None = None
    due: bool = False

    def holds_for(self, step: Any) -> bool:
        """The same condition on a step in memory (its wait as last set; `due` is not checked here)."""
        return step.waiting_for in self.waits and (self.gated is None or step.gated == self.gated)

    def q(self) -> Q:
        q = Q(waiting_for__in=list(self.waits))
        if self.gated is not None:
            q &= Q(gated=self.gated)
        if self.due:
            q &= Q(due_at__lte=Now())
        return q

    def sql(self, table: str = "engine_steprun", due_by: str = "now()") -> str:
        """The same condition in SQL, on the columns of `table` (an alias), due by the SQL time `due_by`."""
        waits = ", ".join(_literal(w) for w in self.waits)
        parts = [f"{table}.waiting_for IN ({waits})"]
        if self.gated is not None:
            parts.append(f"{'' if self.gated else 'NOT '}{table}.gated")
        if self.due:
            parts.append(f"{table}.due_at <= {due_by}")
        return "(" + " AND ".join(parts) + ")"


# The sweeper publishes ungated steps that are due and have no message: retries past their backoff, steps whose
# publish failed or whose claim a drain refused...
PUBLISH_DUE = Predicate((WaitingFor.BROKER, WaitingFor.BACKOFF), gated=False, due=True)
# ... and publishes again a step whose message went out long ago but never started (due by the sweeper's cutoff).
REDELIVER_DUE = Predicate((WaitingFor.DELIVERED,), due=True)
# Gated retries past their backoff join their gates' queues (gates.py).
GATED_BACKOFF_OVER = Predicate((WaitingFor.BACKOFF,), gated=True, due=True)
AT_GATES = Predicate((WaitingFor.GATES,))
DELIVERED = Predicate((WaitingFor.DELIVERED,))
QUEUED_WAITS = Predicate((WaitingFor.BACKOFF, WaitingFor.GATES, WaitingFor.BROKER, WaitingFor.DELIVERED))
# Queue depth (monitoring): ready to be claimed, waiting out a backoff, waiting for its gates.
READY = Predicate((WaitingFor.BROKER, WaitingFor.DELIVERED))
DELAYED = Predicate((WaitingFor.BACKOFF,))
GATED = AT_GATES
# A paused workflow's steps: waiting for the unpause; past their queue TTL (cancelled by the scheduler).
PAUSED = Predicate((WaitingFor.PAUSED,))
PAUSE_EXPIRED = Predicate((WaitingFor.PAUSED,), due=True)
# What a pause holds of the steps already queued: those without gates that no worker has claimed yet (gated steps
# hold or wait for slots, and go on).
PAUSABLE = Predicate((WaitingFor.BACKOFF, WaitingFor.BROKER, WaitingFor.DELIVERED), gated=False)
# Durable tasks evicted at a wait (engine/durable.py): not queued for a worker until their wait is answered.
DURABLE = Predicate((WaitingFor.SLEEP, WaitingFor.EVENT, WaitingFor.CONDITION))


def queue_state_sql(table: str = "engine_steprun") -> str:
    """The queue-depth state of a QUEUED step: 'gated', 'delayed' or 'ready'."""
    return f"CASE WHEN {GATED.sql(table)} THEN 'gated' WHEN {DELAYED.sql(table)} THEN 'delayed' ELSE 'ready' END"


def schedule_overdue() -> Q:
    """QUEUED steps that did not start within their schedule timeout (the deadline is not a wait: it runs along).
    Found through the wait index (step_waiting): a scan of the queued steps, not of every step."""
    return QUEUED_WAITS.q() & Q(schedule_deadline__lte=Now())
