"""Hatchet's value types, with the same names, fields and defaults (reference/hatchet-sdk.md §1)."""

from __future__ import annotations

from datetime import datetime, timedelta
from enum import Enum, IntEnum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Duration = timedelta | str
JSONSerializableMapping = dict[str, Any]


class EmptyModel(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True)


class Priority(IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3


class StickyStrategy(str, Enum):
    SOFT = "SOFT"
    HARD = "HARD"


class ConcurrencyLimitStrategy(str, Enum):
    CANCEL_IN_PROGRESS = "CANCEL_IN_PROGRESS"
    GROUP_ROUND_ROBIN = "GROUP_ROUND_ROBIN"
    CANCEL_NEWEST = "CANCEL_NEWEST"
    QUEUE_NEWEST = "QUEUE_NEWEST"
    QUEUE_OLDEST = "QUEUE_OLDEST"
    CANCEL_QUEUED_EXCEPT_NEWEST = "CANCEL_QUEUED_EXCEPT_NEWEST"
    CANCEL_QUEUED_EXCEPT_OLDEST = "CANCEL_QUEUED_EXCEPT_OLDEST"


class ConcurrencyExpression(BaseModel):
    expression: str
    max_runs: int | str
    limit_strategy: ConcurrencyLimitStrategy
    name: str | None = None
    is_tenant_scoped: bool = False

    @field_validator("max_runs")
    @classmethod
    def _positive(cls, value: int | str) -> int | str:
        if isinstance(value, int) and value <= 0:
            raise ValueError("max_runs must be greater than 0")
        if isinstance(value, str) and not value.strip():
            raise ValueError("max_runs expression must be non-empty")
        return value

    @model_validator(mode="after")
    def _named_when_scoped(self) -> ConcurrencyExpression:
        if self.is_tenant_scoped and not (self.name or "").strip():
            raise ValueError("a name is required for tenant-scoped concurrency")
        return self

    @classmethod
    def from_int(cls, max_runs: int) -> ConcurrencyExpression:
        return cls(
            expression="'constant'", max_runs=max_runs, limit_strategy=ConcurrencyLimitStrategy.GROUP_ROUND_ROBIN
        )


class RateLimitDuration(str, Enum):
    SECOND = "SECOND"
    MINUTE = "MINUTE"
    HOUR = "HOUR"
    DAY = "DAY"
    WEEK = "WEEK"
    MONTH = "MONTH"
    YEAR = "YEAR"


RATE_LIMIT_SECONDS = {
    RateLimitDuration.SECOND: 1,
    RateLimitDuration.MINUTE: 60,
    RateLimitDuration.HOUR: 3600,
    RateLimitDuration.DAY: 86400,
    RateLimitDuration.WEEK: 7 * 86400,
    RateLimitDuration.MONTH: 30 * 86400,
    RateLimitDuration.YEAR: 365 * 86400,
}


class RateLimit(BaseModel):
    static_key: str | None = None
    dynamic_key: str | None = None
    units: str | int = 1
    limit: int | str | None = None
    duration: RateLimitDuration = RateLimitDuration.MINUTE

    @model_validator(mode="after")
    def _validate(self) -> RateLimit:
        if self.dynamic_key and self.static_key:
            raise ValueError("Cannot have both static key and dynamic key set")
        if self.dynamic_key and not self.limit:
            raise ValueError("CEL based keys requires limit to be set")
        if self.limit is None:
            self.limit = -1
        return self


class WorkerLabelComparator(IntEnum):
    EQUAL = 0
    NOT_EQUAL = 1
    GREATER_THAN = 2
    GREATER_THAN_OR_EQUAL = 3
    LESS_THAN = 4
    LESS_THAN_OR_EQUAL = 5


class DesiredWorkerLabel(BaseModel):
    key: str = ""
    value: str | int
    required: bool = False
    weight: int | None = None
    comparator: WorkerLabelComparator | None = None


class WorkerLabel(BaseModel):
    key: str
    value: str | int


class TaskDefaults(BaseModel):
    schedule_timeout: Duration | None = None
    execution_timeout: Duration | None = None
    priority: int | Priority | None = Field(gt=0, lt=4, default=None)
    retries: int | None = None
    backoff_factor: float | None = None
    backoff_max_seconds: int | None = None


class TriggerWorkflowOptions(BaseModel):
    parent_id: str | None = None
    parent_step_run_id: str | None = None
    child_index: int | None = None
    child_key: str | None = None
    namespace: str | None = None
    additional_metadata: JSONSerializableMapping = Field(default_factory=dict)
    priority: int | None = None
    desired_worker_id: str | None = None
    sticky: bool = False
    key: str | None = None
    desired_worker_label: Any = None


class ScheduleTriggerWorkflowOptions(BaseModel):
    parent_id: str | None = None
    parent_step_run_id: str | None = None
    child_index: int | None = None
    child_key: str | None = None
    namespace: str | None = None
    additional_metadata: JSONSerializableMapping = Field(default_factory=dict)
    priority: int | None = None


class WorkflowRunTriggerConfig(BaseModel):
    model_config = ConfigDict(arbitrary_types_allowed=True)

    workflow_name: str
    input: JSONSerializableMapping | None = None
    options: TriggerWorkflowOptions = Field(default_factory=TriggerWorkflowOptions)
    key: str | None = None


class PushEventOptions(BaseModel):
    additional_metadata: JSONSerializableMapping = Field(default_factory=dict)
    namespace: str | None = None
    priority: int | None = None
    scope: str | None = None


class BulkPushEventOptions(BaseModel):
    namespace: str | None = None


class BulkPushEventWithMetadata(BaseModel):
    key: str
    payload: JSONSerializableMapping = Field(default_factory=dict)
    additional_metadata: JSONSerializableMapping = Field(default_factory=dict)
    priority: int | None = None
    scope: str | None = None


class DefaultFilter(BaseModel):
    """A filter declared on a workflow (`default_filters=[...]`): stored as a declarative filter when a worker
    registers the workflow (sfpserver/hatchet/eventfilters.py)."""

    expression: str
    scope: str
    payload: JSONSerializableMapping = Field(default_factory=dict)


class V1TaskStatus(str, Enum):
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"


RunStatus = V1TaskStatus


class WorkerStatus(str, Enum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    PAUSED = "PAUSED"


class RunFilter(BaseModel):
    since: datetime
    until: datetime | None = None
    statuses: list[V1TaskStatus] | None = None
    workflow_ids: list[str] | None = None
    additional_metadata: dict[str, str] | None = None


class BulkCancelReplayOpts(BaseModel):
    ids: list[str] | None = None
    filters: RunFilter | None = None

    @model_validator(mode="after")
    def _one_of(self) -> BulkCancelReplayOpts:
        if (self.ids is None) == (self.filters is None):
            raise ValueError("must provide either ids or filters, but not both")
        return self


def duration_seconds(value: Duration | None, default: float) -> float:
    """A Hatchet duration (timedelta, or a deprecated string like "10s", "1m30s", "1.5h") in seconds."""
    if value is None:
        return default
    if isinstance(value, timedelta):
        return float(int(value.total_seconds()))  # Hatchet sends whole seconds
    return parse_duration(value)


_UNITS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> float:
    import re

    parts = re.findall(r"(\d+(?:\.\d+)?)(ms|s|m|h|d)", text.strip())
    if not parts or "".join(n + u for n, u in parts) != text.strip():
        raise ValueError(f"invalid duration {text!r}: use forms like '10s', '5m', '1h30m'")
    return sum(float(number) * _UNITS[unit] for number, unit in parts)


class EvictionPolicy(BaseModel):
    """When a waiting durable task leaves its slot (Hatchet's `EvictionPolicy`). `ttl`: how long a wait may hold
    the slot before the task is evicted (None: it keeps the slot until the wait is answered; a drain still
    evicts it). Without a policy, ENGINE_DURABLE_EVICT_AFTER decides (default 0: evicted at once)."""

    model_config = ConfigDict(frozen=True)

    ttl: timedelta | None
    allow_capacity_eviction: bool = True
    priority: int = 0


class SleepResult(BaseModel):
    """What `aio_sleep_for` returns: the duration asked for."""

    duration: timedelta
