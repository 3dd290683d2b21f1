"""Hatchet's task conditions (`hatchet_sdk.conditions`) as plain data: `SleepCondition`, `UserEventCondition`,
`ParentCondition` and `or_`, with Hatchet's constructors, so that workflow modules using them load.

Conditions are not acted on yet: a task given `wait_for`, `skip_if` or `cancel_if` warns once
(`unsupported.REGISTRY`) and runs when its parents are done."""

from __future__ import annotations

from datetime import UTC, datetime
from enum import Enum
from typing import TYPE_CHECKING, Any
from uuid import uuid4

from pydantic import BaseModel, Field

from sfpserver.hatchet.types import Duration, duration_seconds

if TYPE_CHECKING:
    from sfpserver.hatchet.task import Task


def generate_or_group_id() -> str:
    return str(uuid4())


class Action(Enum):
    CREATE = 0
    QUEUE = 1
    CANCEL = 2
    SKIP = 3


class BaseCondition(BaseModel):
    readable_data_key: str
    action: Action | None = None
    or_group_id: str = Field(default_factory=generate_or_group_id)
    expression: str | None = None


class Condition:
    def __init__(self, base: BaseCondition) -> None:
        self.base = base


def _duration_key(duration: Duration) -> str:
    seconds = duration_seconds(duration, 0)
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds}s"


class SleepCondition(Condition):
    def __init__(self, duration: Duration, readable_data_key: str | None = None) -> None:
        super().__init__(BaseCondition(readable_data_key=readable_data_key or f"sleep:{_duration_key(duration)}"))
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


class OrGroup:
    def __init__(self, conditions: list[Condition]) -> None:
        self.or_group_id = generate_or_group_id()
        self.conditions = conditions


def or_(*conditions: Condition) -> OrGroup:
    return OrGroup(conditions=list(conditions))


def flatten_conditions(conditions: list[Condition | OrGroup]) -> list[Condition]:
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


__all__ = [
    "Action",
    "BaseCondition",
    "Condition",
    "OrGroup",
    "ParentCondition",
    "SleepCondition",
    "UserEventCondition",
    "flatten_conditions",
    "or_",
]
