"""The pure decisions of durable waits (no database): is a wait answered, does an event match a condition,
what does a replay do with the entry recorded at its index.

A wait's conditions are CNF, as Hatchet's: each condition has a `group`; the groups are ANDed, the conditions of
one group ORed (an `or_(...)` is one group; every condition given alone is a group of its own). A condition is a
JSON object: `kind` ("sleep", "event", "parent"), `key` (Hatchet's readable_data_key: what the result is keyed
by), and for a sleep `deadline` (ISO time) and `duration` (Hatchet's "5s"); for an event `event_key`,
`expression` (the CEL subset of expressions.py over `input`: the payload, and `additional_metadata`), `scope`
and `since` (ISO time: events pushed from then on count; without it only events pushed after the wait was
registered). Once it matched, a condition carries its `hit`: the sleep's {"sleep_duration": ...}, or the
event's payload. A wait is answered once every group has a hit; its result is Hatchet's
`{"CREATE": {key: [hit]}}` over the conditions that matched.

A leaf module: it imports nothing of the engine but expressions.py.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.expressions import evaluate

Condition = dict[str, Any]
ACTION = "CREATE"


@dataclass(frozen=True)
class EventFact:
    """A pushed event, as the waits see it."""

    id: str
    key: str
    payload: Any
    scope: str | None
    created_at: datetime
    metadata: Mapping[str, Any] | None = None


def groups(conditions: Sequence[Condition]) -> dict[int, list[Condition]]:
    found: dict[int, list[Condition]] = {}
    for condition in conditions:
        found.setdefault(int(condition["group"]), []).append(condition)
    return found


def open_groups(conditions: Sequence[Condition]) -> list[list[Condition]]:
    """The groups that have no hit yet."""
    return [group for group in groups(conditions).values() if not any("hit" in c for c in group)]


def answered(conditions: Sequence[Condition]) -> bool:
    return bool(conditions) and not open_groups(conditions)


def result(conditions: Sequence[Condition]) -> dict[str, Any]:
    """Hatchet's answer to a wait: {"CREATE": {readable_data_key: [hit, ...]}} over the conditions that matched."""
    matched: dict[str, list[Any]] = {}
    for condition in conditions:
        if "hit" in condition:
            matched.setdefault(condition["key"], []).append(condition["hit"])
    return {ACTION: matched}


def next_deadline(conditions: Sequence[Condition]) -> datetime | None:
    """The earliest deadline of a sleep in a group still open (when the wait wakes)."""
    deadlines = [
        datetime.fromisoformat(c["deadline"])
        for group in open_groups(conditions)
        for c in group
        if c["kind"] == "sleep"
    ]
    return min(deadlines, default=None)


def open_event_keys(conditions: Sequence[Condition]) -> list[str]:
    """The event keys the wait still listens for."""
    return sorted({c["event_key"] for group in open_groups(conditions) for c in group if c["kind"] == "event"})


def has_open(conditions: Sequence[Condition], kind: str) -> bool:
    return any(c["kind"] == kind for group in open_groups(conditions) for c in group)


def pass_time(conditions: Sequence[Condition], now: datetime) -> bool:
    """Give a hit to every sleep of an open group whose deadline passed; True if one got it."""
    hit = False
    for group in open_groups(conditions):
        for condition in group:
            if condition["kind"] == "sleep" and datetime.fromisoformat(condition["deadline"]) <= now:
                condition["hit"] = {"sleep_duration": condition.get("duration", "")}
                hit = True
                break
    return hit


def event_matches(condition: Condition, event: EventFact, registered_at: datetime) -> bool:
    """Does `event` satisfy the event condition of a wait registered at `registered_at`?"""
    if condition["kind"] != "event" or condition["event_key"] != event.key:
        return False
    if condition.get("scope") is not None and condition["scope"] != event.scope:
        return False
    since = datetime.fromisoformat(condition["since"]) if condition.get("since") else registered_at
    if event.created_at < since:
        return False
    return expression_holds(condition.get("expression"), event)


def expression_holds(expression: str | None, event: EventFact) -> bool:
    if not expression or not expression.strip():
        return True
    variables = {"input": event.payload, "payload": event.payload, "additional_metadata": event.metadata or {}}
    try:
        return bool(evaluate(expression, variables, field="expression"))
    except (InvalidWorkflowError, TypeError, ValueError, ZeroDivisionError):
        return False  # an expression that does not apply to this payload does not match it


def offer_event(conditions: Sequence[Condition], event: EventFact, registered_at: datetime) -> bool:
    """Give `event` as the hit of every open group it matches (its first matching condition); True if any."""
    hit = False
    for group in open_groups(conditions):
        for condition in group:
            if event_matches(condition, event, registered_at):
                condition["hit"] = event.payload
                hit = True
                break
    return hit


def signature(kind: str, conditions: Sequence[Condition]) -> str:
    """What a replay must ask for again at an index: the kind and the conditions (not the signal key, which
    Hatchet users often make random, nor readable keys holding times)."""
    parts = [
        {k: c.get(k) for k in ("group", "kind", "duration", "event_key", "expression", "scope", "parent")}
        for c in conditions
    ]
    return f"{kind}:" + json.dumps(parts, sort_keys=True, separators=(",", ":"))


def at(condition: Condition, now: datetime, outputs: Mapping[str, Any]) -> Condition:
    """A DAG task's condition as registered `now`: a sleep gets its deadline (from its `seconds`), a parent
    condition its hit when its expression holds over the parent's output (`outputs` by step name)."""
    registered = dict(condition)
    if registered["kind"] == "sleep":
        registered["deadline"] = (now + timedelta(seconds=float(registered.get("seconds", 0)))).isoformat()
    elif registered["kind"] == "parent":
        output = outputs.get(registered["parent"])
        if output is not None and parent_holds(registered.get("expression"), output):
            registered["hit"] = output
    return registered


def parent_holds(expression: str | None, output: Any) -> bool:
    if not expression or not expression.strip():
        return True
    try:
        return bool(evaluate(expression, {"output": output}, field="expression"))
    except (InvalidWorkflowError, TypeError, ValueError, ZeroDivisionError):
        return False


class Dag(StrEnum):
    CANCEL = "cancel"
    SKIP = "skip"
    QUEUE = "queue"
    WAIT = "wait"


def dag_decision(answered: Mapping[str, bool]) -> Dag:
    """What a DAG task's conditions say, given which of its actions ("wait_for", "skip_if", "cancel_if": present
    only when the task has them) are answered: cancel before skip before run; without wait_for it runs at once."""
    if answered.get("cancel_if"):
        return Dag.CANCEL
    if answered.get("skip_if"):
        return Dag.SKIP
    if answered.get("wait_for", True):
        return Dag.QUEUE
    return Dag.WAIT


class Replay(StrEnum):
    RECORD = "record"  # nothing at this index: record the entry
    ANSWER = "answer"  # the same entry, answered: return its result
    WAIT = "wait"  # the same entry, not answered yet: wait for it again (its deadlines stand)
    DIVERGED = "diverged"  # a different entry: non-determinism


@dataclass(frozen=True)
class Recorded:
    kind: str
    key: str
    answered: bool


def replay(recorded: Recorded | None, kind: str, key: str) -> Replay:
    """What a durable task's call does, given the entry its log holds at the call's index."""
    if recorded is None:
        return Replay.RECORD
    if recorded.kind != kind or recorded.key != key:
        return Replay.DIVERGED
    return Replay.ANSWER if recorded.answered else Replay.WAIT
