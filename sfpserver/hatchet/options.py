"""The options of a workflow and of a task, each a frozen object built once by the public decorators.

`hatchet.workflow(...)`, `hatchet.task(...)`, `workflow.task(...)`, `workflow.durable_task(...)` and the
on-failure/on-success hooks keep Hatchet's explicit, typed keyword signatures (users move over with them);
each only builds a `WorkflowOptions` and/or a `TaskOptions` and hands it on, so the list of options and
their normalisation (lists to tuples, an int concurrency to an expression, the deprecated label dict to a
list) live here and nowhere else.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sfpserver.hatchet.types import (
    ConcurrencyExpression,
    DesiredWorkerLabel,
    Duration,
    Priority,
    RateLimit,
    TaskDefaults,
)
from sfpserver.hatchet.unsupported import unsupported

if TYPE_CHECKING:
    from sfpserver.hatchet.task import Task

DEFAULT_EXECUTION_TIMEOUT = timedelta(seconds=60)
DEFAULT_SCHEDULE_TIMEOUT = timedelta(minutes=5)


def concurrency_list(value: Any) -> tuple[ConcurrencyExpression, ...]:
    """Hatchet's concurrency argument in any of its forms (int, expression, list of either) as a tuple."""
    if value is None:
        return ()
    if isinstance(value, int):
        return (ConcurrencyExpression.from_int(value),)
    if isinstance(value, ConcurrencyExpression):
        return (value,)
    return tuple(ConcurrencyExpression.from_int(v) if isinstance(v, int) else v for v in value)


def label_tuple(value: Any) -> tuple[DesiredWorkerLabel, ...]:
    """Desired worker labels as a tuple (Hatchet's deprecated `{key: label}` dict form included)."""
    labels = value or []
    return tuple(labels.values()) if isinstance(labels, dict) else tuple(labels)


POOL_LABEL = "pool"  # a required desired label `pool=<name>` sends a task to that platform pool's queue


def is_pool_label(label: DesiredWorkerLabel) -> bool:
    return label.key == POOL_LABEL and label.required


def _freeze(options: Any, **normalised: Any) -> None:
    for name, value in normalised.items():
        object.__setattr__(options, name, value)


@dataclass(frozen=True)
class WorkflowOptions:
    name: str
    description: str | None = None
    input_validator: Any = None
    on_events: tuple[str, ...] = ()
    on_crons: tuple[str, ...] = ()
    cron_input: Any = None
    version: str | None = None
    sticky: Any = None
    default_priority: int | Priority = Priority.LOW
    concurrency: tuple[ConcurrencyExpression, ...] = ()
    task_defaults: TaskDefaults = dataclasses.field(default_factory=TaskDefaults)
    default_filters: tuple[Any, ...] = ()
    default_additional_metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
    idempotency: Any = None

    def __post_init__(self) -> None:
        _freeze(
            self,
            on_events=tuple(self.on_events or ()),
            on_crons=tuple(self.on_crons or ()),
            default_priority=int(self.default_priority),
            concurrency=concurrency_list(self.concurrency),
            task_defaults=self.task_defaults or TaskDefaults(),
            default_filters=tuple(self.default_filters or ()),
            default_additional_metadata=dict(self.default_additional_metadata or {}),
        )

    def warn_unsupported(self) -> None:
        """Warn (once each) for the options given here that the SDK does not act on."""
        given = {
            "task_defaults.priority": self.task_defaults.priority is not None,
        }
        for option in (name for name, present in given.items() if present):
            unsupported(option, "workflow")


@dataclass(frozen=True)
class TaskOptions:
    name: str | None = None
    schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT
    execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT
    parents: tuple[Task[Any, Any], ...] = ()
    retries: int = 0
    rate_limits: tuple[RateLimit, ...] = ()
    desired_worker_labels: tuple[DesiredWorkerLabel, ...] = ()
    backoff_factor: float | None = None
    backoff_max_seconds: int | None = None
    concurrency: tuple[ConcurrencyExpression, ...] = ()
    wait_for: tuple[Any, ...] = ()
    skip_if: tuple[Any, ...] = ()
    cancel_if: tuple[Any, ...] = ()
    slot_cost: int | None = None
    durable: bool = False
    eviction_policy: Any = None
    batch: Any = None  # a batch task's BatchSettings (sfpserver/hatchet/batch.py)
    # Extension (not in Hatchet): vault credentials the task may lease, by name or by input field path.
    credentials: tuple[str, ...] = ()
    credentials_from_input: tuple[str, ...] = ()
    # Extension (not in Hatchet): block or continue. True: when this task fails for good its descendants run
    # anyway (they read the error through ctx.task_run_errors) and the run does not fail for it.
    continue_on_failure: bool = False

    def __post_init__(self) -> None:
        _freeze(
            self,
            parents=tuple(self.parents or ()),
            rate_limits=tuple(self.rate_limits or ()),
            desired_worker_labels=label_tuple(self.desired_worker_labels),
            concurrency=concurrency_list(self.concurrency),
            wait_for=tuple(self.wait_for or ()),
            skip_if=tuple(self.skip_if or ()),
            cancel_if=tuple(self.cancel_if or ()),
            credentials=tuple(self.credentials or ()),
            credentials_from_input=tuple(self.credentials_from_input or ()),
        )

    def warn_unsupported(self) -> None:
        """Warn (once each) for the options given here that the SDK does not act on."""
        given = {
            "slot_cost": self.slot_cost is not None,
        }
        for option in (name for name, present in given.items() if present):
            unsupported(option, "task")
        if self.batch is not None and any(not is_pool_label(label) for label in self.desired_worker_labels):
            unsupported("desired_worker_labels", "batch_task")
        if getattr(self.eviction_policy, "priority", 0):
            unsupported("eviction_policy.priority", "durable_task")

    def with_defaults(self, defaults: TaskDefaults) -> TaskOptions:
        """Hatchet's TaskDefaults rule: an option left at its signature default takes the workflow's default."""
        fields = ("schedule_timeout", "execution_timeout", "retries", "backoff_factor", "backoff_max_seconds")
        changes = {
            field: getattr(defaults, field)
            for field in fields
            if getattr(self, field) == _DEFAULTS[field] and getattr(defaults, field, None) is not None
        }
        return dataclasses.replace(self, **changes) if changes else self


_DEFAULTS = {f.name: f.default for f in dataclasses.fields(TaskOptions)}
