"""Workflow definitions: a DAG of steps with their policies, validated before anything is recorded."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from sfpserver.engine.exceptions import InvalidWorkflowError

STANDARD_QUEUE = "standard"
LONG_RUNNING_QUEUE = "long-running"
MAX_BACKOFF_SECONDS = 86400

InputValidator = Callable[[Any], Any]


@dataclass(frozen=True)
class StepDef:
    name: str
    action: str
    parents: tuple[str, ...] = ()
    kind: str = "TASK"
    retries: int = 0
    backoff_factor: float | None = None
    backoff_max_seconds: int | None = None
    execution_timeout: float | None = None  # None: the pool's default
    schedule_timeout: float = 300.0
    queue: str = STANDARD_QUEUE
    args: Mapping[str, Any] = field(default_factory=dict)
    # [{"expression", "max_runs", "strategy", "name"}]: held while the step runs.
    concurrency: tuple[Mapping[str, Any], ...] = ()
    # [{"static_key" | "dynamic_key", "units", "limit", "window_seconds"}]
    rate_limits: tuple[Mapping[str, Any], ...] = ()
    # [{"key", "value", "required", "weight", "comparator"}]: which workers may take it (engine/affinity.py).
    desired_worker_labels: tuple[Mapping[str, Any], ...] = ()
    # A batch task's {"max_size", "interval", "group_key", "max_runs"} (engine/batching.py); None: one call a step.
    batch: Mapping[str, Any] | None = None
    # Block or continue (an extension beyond Hatchet, engine/settling.py): when this step fails for good, its
    # children run anyway and the run does not fail for it.
    continue_on_failure: bool = False
    # Hatchet's task conditions: {"wait_for" | "skip_if" | "cancel_if": [condition]} (engine/conditions.py).
    conditions: Mapping[str, Any] = field(default_factory=dict)

    def to_spec(self) -> dict[str, Any]:
        spec = asdict(self)
        spec["parents"] = list(self.parents)
        spec["desired_worker_labels"] = [dict(d) for d in self.desired_worker_labels]
        spec["batch"] = None if self.batch is None else dict(self.batch)
        spec["args"] = dict(self.args)
        spec["concurrency"] = [dict(c) for c in self.concurrency]
        spec["rate_limits"] = [dict(r) for r in self.rate_limits]
        spec["conditions"] = {action: list(found) for action, found in self.conditions.items()}
        return spec

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> StepDef:
        return cls(
            **{
                **spec,
                "parents": tuple(spec.get("parents", ())),
                "concurrency": tuple(spec.get("concurrency", ())),
                "rate_limits": tuple(spec.get("rate_limits", ())),
                "desired_worker_labels": tuple(spec.get("desired_worker_labels", ())),
            }
        )


@dataclass(frozen=True)
class WorkflowDef:
    name: str
    steps: tuple[StepDef, ...]
    input_validator: InputValidator | None = None
    default_priority: int = 1
    default_metadata: Mapping[str, Any] = field(default_factory=dict)
    # How runs start besides direct triggers: {"on_events": [...], "on_crons": [...], "cron_input": ...}.
    triggers: Mapping[str, Any] = field(default_factory=dict)
    # Workflow-level concurrency, held for the whole run (same shape as StepDef.concurrency).
    concurrency: tuple[Mapping[str, Any], ...] = ()
    # {"expression", "ttl_seconds", "method": "TTL" | "STATUS"}: a trigger whose key another run holds starts
    # nothing (engine/idempotency.py).
    idempotency: Mapping[str, Any] | None = None
    # SOFT or HARD: a run's steps prefer / must use the worker of its first step (engine/affinity.py).
    sticky: str | None = None

    def validate(self) -> WorkflowDef:
        _check_name("workflow", self.name)
        if not self.steps:
            raise InvalidWorkflowError("steps", f"workflow {self.name!r} has no steps")
        _check_priority("default_priority", self.default_priority)
        if self.sticky not in (None, "SOFT", "HARD"):
            raise InvalidWorkflowError("sticky", f"must be SOFT or HARD, got {self.sticky!r}")
        names = [step.name for step in self.steps]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise InvalidWorkflowError("steps", f"duplicate step name(s): {', '.join(duplicates)}")
        for step in self.steps:
            _check_step(step, set(names))
        _check_acyclic(self.steps)
        _check_idempotency(self.idempotency)
        return self

    def to_spec(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "steps": [step.to_spec() for step in self.steps],
            "default_priority": self.default_priority,
            "default_metadata": dict(self.default_metadata),
            "triggers": dict(self.triggers),
            "concurrency": [dict(c) for c in self.concurrency],
            "idempotency": dict(self.idempotency) if self.idempotency else None,
            "sticky": self.sticky,
        }

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> WorkflowDef:
        return cls(
            name=spec["name"],
            steps=tuple(StepDef.from_spec(s) for s in spec["steps"]),
            default_priority=spec.get("default_priority", 1),
            default_metadata=spec.get("default_metadata", {}),
            triggers=spec.get("triggers", {}),
            concurrency=tuple(spec.get("concurrency", ())),
            idempotency=spec.get("idempotency"),
            sticky=spec.get("sticky"),
        )


def _check_name(what: str, name: object) -> None:
    if not isinstance(name, str) or not name.strip():
        raise InvalidWorkflowError(what, "a non-empty name is required")


def _check_priority(what: str, priority: object) -> None:
    if not isinstance(priority, int) or isinstance(priority, bool) or not 1 <= priority <= 4:
        raise InvalidWorkflowError(what, f"must be an integer from 1 to 3, got {priority!r}")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _check_step(step: StepDef, names: set[str]) -> None:
    where = f"steps.{step.name}"
    _check_name("step", step.name)
    if not isinstance(step.retries, int) or isinstance(step.retries, bool) or step.retries < 0:
        raise InvalidWorkflowError(f"{where}.retries", f"must be a whole number >= 0, got {step.retries!r}")
    for attr in ("execution_timeout", "schedule_timeout"):
        value = getattr(step, attr)
        if value is None and attr == "execution_timeout":
            continue
        if not _is_number(value) or value <= 0:
            raise InvalidWorkflowError(f"{where}.{attr}", f"must be a positive number of seconds, got {value!r}")
    if step.backoff_factor is not None and (
        not _is_number(step.backoff_factor) or not 1 <= step.backoff_factor <= 1000
    ):
        raise InvalidWorkflowError(f"{where}.backoff_factor", f"must be from 1 to 1000, got {step.backoff_factor!r}")
    max_s = step.backoff_max_seconds
    if max_s is not None and (not isinstance(max_s, int) or not 1 <= max_s <= MAX_BACKOFF_SECONDS):
        raise InvalidWorkflowError(
            f"{where}.backoff_max_seconds", f"must be a whole number from 1 to {MAX_BACKOFF_SECONDS}, got {max_s!r}"
        )
    if not isinstance(step.continue_on_failure, bool):
        raise InvalidWorkflowError(
            f"{where}.continue_on_failure", f"must be true or false, got {step.continue_on_failure!r}"
        )
    for parent in step.parents:
        if parent not in names:
            raise InvalidWorkflowError(f"{where}.parents", f"unknown parent step {parent!r}")
        if parent == step.name:
            raise InvalidWorkflowError(f"{where}.parents", "a step cannot be its own parent")
    if step.kind == "ON_FAILURE" and step.parents:
        raise InvalidWorkflowError(f"{where}.parents", "an on-failure step takes no parents")


IDEMPOTENCY_METHODS = ("TTL", "STATUS")


def _check_idempotency(config: Mapping[str, Any] | None) -> None:
    if config is None:
        return
    expression, ttl, method = config.get("expression"), config.get("ttl_seconds"), config.get("method")
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidWorkflowError("idempotency.key_expression", "a non-empty expression is required")
    if not _is_number(ttl) or float(ttl or 0) <= 0:
        raise InvalidWorkflowError("idempotency.ttl", f"must be a positive number of seconds, got {ttl!r}")
    if method not in IDEMPOTENCY_METHODS:
        raise InvalidWorkflowError("idempotency.method", f"must be one of {', '.join(IDEMPOTENCY_METHODS)}")


def _check_acyclic(steps: tuple[StepDef, ...]) -> None:
    parents = {step.name: step.parents for step in steps}
    state: dict[str, int] = {}  # 1 visiting, 2 done

    def visit(name: str, path: list[str]) -> None:
        if state.get(name) == 2:
            return
        if state.get(name) == 1:
            cycle = [*path[path.index(name) :], name]
            raise InvalidWorkflowError("steps", f"the steps form a cycle: {' -> '.join(cycle)}")
        state[name] = 1
        for parent in parents[name]:
            visit(parent, [*path, name])
        state[name] = 2

    for name in parents:
        visit(name, [])


def resolve_args(args: Mapping[str, Any], run_input: Any) -> dict[str, Any]:
    """A step's args for one run: the names that `args["credentials_from_input"]` points at in the run's input
    (dotted paths; lists along the way are walked item by item) join `args["credentials"]`. Recorded on the step run at
    trigger time, so what a step may lease is fixed in Postgres before any of its code runs."""
    resolved = dict(args)
    paths = resolved.get("credentials_from_input") or []
    if not paths:
        return resolved
    names = list(resolved.get("credentials") or [])
    for path in paths:
        for name in _dotted(run_input, str(path).split(".")):
            if isinstance(name, str) and name and name not in names:
                names.append(name)
    resolved["credentials"] = names
    return resolved


def _dotted(value: Any, parts: list[str]) -> list[Any]:
    """The values at a dotted path; a list on the way contributes each of its items."""
    if isinstance(value, list):
        return [found for item in value for found in _dotted(item, parts)]
    if not parts:
        return [value]
    return _dotted(value.get(parts[0]), parts[1:]) if isinstance(value, Mapping) else []


def descendants(steps: Mapping[str, tuple[str, ...] | list[str]], roots: set[str]) -> set[str]:
    """Every step downstream of `roots` (not including them), given each step's parents."""
    children: dict[str, set[str]] = {}
    for name, step_parents in steps.items():
        for parent in step_parents:
            children.setdefault(parent, set()).add(name)
    found: set[str] = set()
    frontier = list(roots)
    while frontier:
        for child in children.get(frontier.pop(), ()):
            if child not in found:
                found.add(child)
                frontier.append(child)
    return found


def backoff_delay(factor: float | None, max_seconds: int | None, retry_number: int) -> float:
    """Hatchet's backoff: min(max_seconds or 86400, factor ** n) for the n-th retry (1-based); 0 without a factor."""
    if factor is None:
        return 0.0
    cap = float(max_seconds or MAX_BACKOFF_SECONDS)
    if retry_number * math.log(factor) >= math.log(cap):  # compare in log space: no overflow
        return cap
    return float(min(cap, factor**retry_number))
