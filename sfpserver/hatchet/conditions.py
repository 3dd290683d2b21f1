"""Hatchet's conditions (`hatchet_sdk.conditions`): `SleepCondition`, `UserEventCondition`, `ParentCondition`,
`or_(...)`, as `DurableContext.aio_wait_for` and a task's `wait_for` / `skip_if` / `cancel_if` take them.

`to_engine` turns a list of them into the engine's CNF (sfpserver/engine/conditions.py): every condition given
alone is a group of its own (ANDed), the conditions of one `or_` share a group (ORed). A sleep's deadline is
fixed here, when the wait is first registered; a replay finds the recorded one.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from pydantic import BaseModel, Field

from sfpserver.hatchet.types import Duration, duration_seconds

if TYPE_CHECKING:
    from sfpserver.hatchet.task import Task

HOUR, MINUTE = 3600, 60


def generate_or_group_id() -> str:
    return str(uuid4())


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


class BaseCondition(BaseModel):
    readable_data_key: str
    action: Action | None = None
    or_group_id: str = Field(default_factory=generate_or_group_id)
    expression: str | None = None


class Condition:
    def __init__(self, base: BaseCondition) -> None:
        self.base = base

    @property
    def readable_data_key(self) -> str:
        return self.base.readable_data_key


class SleepCondition(Condition):
    def __init__(self, duration: Duration, readable_data_key: str | None = None) -> None:
        super().__init__(BaseCondition(readable_data_key=readable_data_key or f"sleep:{timedelta_to_expr(duration)}"))
        self.duration = duration


class UserEventCondition(Condition):
    def __init__(
        self,
        event_key: str,
        expression: str | None = None,
        readable_data_key: str | None = None,
        scope: str | None = None,
        consider_events_since: datetime | None = None,
    ) -> None:
        super().__init__(BaseCondition(readable_data_key=readable_data_key or event_key, expression=expression))
        self.event_key = event_key
        self.expression = expression
        self.scope = scope
        self.consider_events_since = consider_events_since


class ParentCondition(Condition):
    def __init__(
        self, parent: Task[Any, Any], expression: str | None = None, readable_data_key: str | None = None
    ) -> None:
        key = readable_data_key or (
            parent.name + (f":{expression}" if expression else "") + ":" + datetime.now(tz=UTC).isoformat()
        )
        super().__init__(BaseCondition(readable_data_key=key, expression=expression))
        self.parent = parent
        self.expression = expression


class OrGroup:
    def __init__(self, conditions: list[Condition]) -> None:
        self.or_group_id = generate_or_group_id()
        self.conditions = conditions


def or_(*conditions: Condition) -> OrGroup:
    return OrGroup(conditions=list(conditions))


def flatten_conditions(conditions: Sequence[Condition | OrGroup]) -> list[Condition]:
    """The conditions of a list, those of an or-group sharing the group's id."""
    flattened: list[Condition] = []
    for condition in conditions:
        if isinstance(condition, OrGroup):
            for member in condition.conditions:
                member.base.or_group_id = condition.or_group_id
            flattened.extend(condition.conditions)
        else:
            flattened.append(condition)
    return flattened


def to_engine(conditions: Sequence[Condition | OrGroup], now: datetime) -> list[dict[str, Any]]:
    """The engine's CNF for `conditions`, sleeps due from `now`: one group per or-group id, in order."""
    groups: dict[str, int] = {}
    found: list[dict[str, Any]] = []
    for condition in flatten_conditions(conditions):
        group = groups.setdefault(condition.base.or_group_id, len(groups))
        found.append({"group": group, **_one(condition, now)})
    return found


def to_dag(conditions: Sequence[Condition | OrGroup]) -> list[dict[str, Any]]:
    """A DAG task's conditions for its definition: as `to_engine`, but a sleep keeps only its duration (the
    engine fixes the deadline when the task's parents are done)."""
    found = to_engine(conditions, datetime.now(tz=UTC))
    return [{k: v for k, v in condition.items() if k != "deadline"} for condition in found]


def _one(condition: Condition, now: datetime) -> dict[str, Any]:
    key = condition.base.readable_data_key
    if isinstance(condition, SleepCondition):
        seconds = duration_seconds(condition.duration, 0)
        return {
            "kind": "sleep",
            "key": key,
            "duration": timedelta_to_expr(condition.duration),
            "seconds": seconds,
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


__all__ = [
    "Action",
    "BaseCondition",
    "Condition",
    "OrGroup",
    "ParentCondition",
    "SleepCondition",
    "UserEventCondition",
    "expr_to_timedelta",
    "flatten_conditions",
    "or_",
    "timedelta_to_expr",
    "to_dag",
    "to_engine",
]
