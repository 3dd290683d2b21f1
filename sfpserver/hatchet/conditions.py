"""Hatchet's conditions (`hatchet_sdk.conditions`): `SleepCondition`, `UserEventCondition`, `ParentCondition`,
`or_(...)`, as `DurableContext.aio_wait_for` and a task's `wait_for` / `skip_if` / `cancel_if` take them.

`to_engine` turns a list of them into the engine's CNF (sfpserver/engine/conditions.py): every condition given
alone is a group of its own (ANDed), the conditions of one `or_` share a group (ORed). A sleep's deadline is
fixed here, when the wait is first registered; a replay finds the recorded one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from sfpserver.hatchet.types import Duration, duration_seconds

if TYPE_CHECKING:
    from sfpserver.hatchet.task import Task

HOUR, MINUTE = 3600, 60


class Action(Enum):
    CREATE = 0
    QUEUE = 1
    CANCEL = 2
    SKIP = 3


def timedelta_to_expr(duration: Duration) -> str:
    """Hatchet's duration text: whole hours, minutes or seconds ("5s", "2m", "1h")."""
    if isinstance(duration, str):
        return duration
    seconds = int(duration.total_seconds()) if isinstance(duration, timedelta) else int(duration)
    if seconds and seconds % HOUR == 0:
        return f"{seconds // HOUR}h"
    if seconds and seconds % MINUTE == 0:
        return f"{seconds // MINUTE}m"
    return f"{seconds}s"


def expr_to_timedelta(expr: str) -> timedelta:
    units = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
    if not expr or expr[-1] not in units:
        raise ValueError(f"Invalid time expression: {expr}")
    return timedelta(**{units[expr[-1]]: int(expr[:-1])})


class Condition:
    readable_data_key: str
    expression: str | None = None

    def __init__(self) -> None:
        self.or_group_id = str(uuid4())


class SleepCondition(Condition):
    def __init__(self, duration: Duration, readable_data_key: str | None = None) -> None:
        super().__init__()
        self.duration = duration
        self.readable_data_key = readable_data_key or f"sleep:{timedelta_to_expr(duration)}"


class UserEventCondition(Condition):
    def __init__(
        self,
        event_key: str,
        expression: str | None = None,
        readable_data_key: str | None = None,
        scope: str | None = None,
        consider_events_since: datetime | None = None,
    ) -> None:
        super().__init__()
        self.event_key = event_key
        self.expression = expression
        self.scope = scope
        self.consider_events_since = consider_events_since
        self.readable_data_key = readable_data_key or event_key


class ParentCondition(Condition):
    def __init__(self, parent: Task[Any, Any], expression: str | None = None, readable_data_key: str | None = None):
        super().__init__()
        self.parent = parent
        self.expression = expression
        self.readable_data_key = readable_data_key or parent.name + (f":{expression}" if expression else "")


class OrGroup:
    def __init__(self, conditions: list[Condition]) -> None:
        self.or_group_id = str(uuid4())
        self.conditions = conditions


def or_(*conditions: Condition) -> OrGroup:
    return OrGroup(conditions=list(conditions))


def to_engine(conditions: Sequence[Condition | OrGroup], now: datetime) -> list[dict[str, Any]]:
    """The engine's CNF for `conditions`, sleeps due from `now`."""
    found: list[dict[str, Any]] = []
    for group, item in enumerate(conditions):
        for condition in item.conditions if isinstance(item, OrGroup) else [item]:
            found.append({"group": group, **_one(condition, now)})
    return found


def _one(condition: Condition, now: datetime) -> dict[str, Any]:
    key = condition.readable_data_key
    if isinstance(condition, SleepCondition):
        seconds = duration_seconds(condition.duration, 0)
        return {
            "kind": "sleep",
            "key": key,
            "duration": timedelta_to_expr(condition.duration),
            "deadline": (now + timedelta(seconds=seconds)).isoformat(),
        }
    if isinstance(condition, UserEventCondition):
        since = condition.consider_events_since
        return {
            "kind": "event",
            "key": key,
            "event_key": condition.event_key,
            "expression": condition.expression,
            "scope": condition.scope,
            "since": since.isoformat() if since is not None else None,
        }
    if isinstance(condition, ParentCondition):
        return {"kind": "parent", "key": key, "parent": condition.parent.name, "expression": condition.expression}
    raise TypeError(f"not a condition: {condition!r}")
