"""Workflows, tasks and standalone tasks: Hatchet's decorator surface, compiled to engine definitions."""

from __future__ import annotations

import asyncio
import contextvars
import dataclasses
import inspect
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, get_type_hints
from warnings import warn

from pydantic import BaseModel, TypeAdapter, ValidationError

from sfpserver.engine.services import StepDef, StepInterrupted, WorkflowDef
from sfpserver.hatchet.context import Context, DurableContext
from sfpserver.hatchet.contextvars import current_context
from sfpserver.hatchet.exceptions import IllegalTaskOutputError
from sfpserver.hatchet.types import (
    ConcurrencyExpression,
    DesiredWorkerLabel,
    Duration,
    EmptyModel,
    Priority,
    RateLimit,
    TaskDefaults,
    TriggerWorkflowOptions,
    WorkflowRunTriggerConfig,
    duration_seconds,
)

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation
    from sfpserver.hatchet.client import Hatchet
    from sfpserver.hatchet.runs import TaskRunRef, WorkflowRunRef

TWorkflowInput = TypeVar("TWorkflowInput")
R = TypeVar("R")

DEFAULT_EXECUTION_TIMEOUT = timedelta(seconds=60)
DEFAULT_SCHEDULE_TIMEOUT = timedelta(minutes=5)
ACTION_PREFIX = "hatchet"

# The pydantic validation context of an input validated when its run is triggered.
TRIGGER_CONTEXT: dict[str, Any] = {"at_trigger": True}


POOL_LABEL = "pool"  # a required desired label `pool=<name>` sends a task to that platform pool's queue


def queue_for(workflow_name: str) -> str:
    return f"hatchet.{workflow_name}"


def _queue(task: Task[Any, Any]) -> str:
    for label in task.desired_worker_labels:
        if label.key == POOL_LABEL and label.required:
            return str(label.value)
    return queue_for(task.workflow.name)


def _adapter(validator: Any) -> TypeAdapter[Any]:
    return TypeAdapter(validator if validator is not None else EmptyModel)


def to_jsonable(adapter: TypeAdapter[Any], value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return TypeAdapter(type(value)).dump_python(value, mode="json")
    return adapter.dump_python(adapter.validate_python(value), mode="json")


class Task(Generic[TWorkflowInput, R]):
    def __init__(
        self,
        fn: Callable[..., Any],
        workflow: Workflow[TWorkflowInput],
        *,
        name: str,
        kind: str = "TASK",
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        parents: list[Task[Any, Any]] | None = None,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | dict[str, DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | ConcurrencyExpression | None = None,
        slot_cost: int | None = None,
        durable: bool = False,
        credentials: list[str] | None = None,
        credentials_from_input: list[str] | None = None,
    ) -> None:
        self.fn = fn
        self.workflow = workflow
        self.name = name.lower()
        self.kind = kind
        self.schedule_timeout = schedule_timeout
        self.execution_timeout = execution_timeout
        self.parents = list(parents or [])
        self.retries = retries
        self.rate_limits = list(rate_limits or [])
        labels = desired_worker_labels or []
        self.desired_worker_labels = list(labels.values()) if isinstance(labels, dict) else list(labels)
        self.backoff_factor = backoff_factor
        self.backoff_max_seconds = backoff_max_seconds
        self.concurrency = _concurrency_list(concurrency)
        self.slot_cost = slot_cost
        self.durable = durable
        # Extension (not in Hatchet): vault credentials the task may lease, by name or by input field path.
        self.credentials = list(credentials or [])
        self.credentials_from_input = list(credentials_from_input or [])
        self.is_async = inspect.iscoroutinefunction(fn)
        self._output_adapter = _return_adapter(fn)

    @property
    def output_validator(self) -> TypeAdapter[Any] | None:
        return self._output_adapter

    @property
    def action(self) -> str:
        return f"{ACTION_PREFIX}:{self.workflow.name}:{self.name}"

    def validate_output(self, data: Any) -> Any:
        if self._output_adapter is None or data is None:
            return data
        return self._output_adapter.validate_python(data)

    def serialize_output(self, value: Any) -> Any:
        if not value:
            return None
        if isinstance(value, BaseModel):
            data = value.model_dump(mode="json")
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            data = TypeAdapter(type(value)).dump_python(value, mode="json")
        elif isinstance(value, dict):
            adapter = self._output_adapter or TypeAdapter(dict)
            data = adapter.dump_python(value, mode="json")
        else:
            raise IllegalTaskOutputError(
                f"Tasks must return either a dictionary, a Pydantic BaseModel, or a dataclass which can be "
                f"serialized to a JSON object. Got object of type {type(value)} instead."
            )
        if "\\u0000" in json.dumps(data):
            raise IllegalTaskOutputError("task outputs cannot contain the unicode null character \\u0000")
        return data

    def to_step(self) -> StepDef:
        return StepDef(
            name=self.name,
            action=self.action,
            parents=tuple(p.name for p in self.parents),
            kind=self.kind,
            retries=self.retries,
            backoff_factor=self.backoff_factor,
            backoff_max_seconds=self.backoff_max_seconds,
            execution_timeout=duration_seconds(self.execution_timeout, 60.0),
            schedule_timeout=duration_seconds(self.schedule_timeout, 300.0),
            queue=_queue(self),
            args=self._args(),
            concurrency=tuple(concurrency_spec(c) for c in self.concurrency),
            rate_limits=tuple(rate_limit_spec(r) for r in self.rate_limits),
        )

    def _args(self) -> dict[str, Any]:
        args: dict[str, Any] = {
            "desired_worker_labels": [d.model_dump(mode="json") for d in self.desired_worker_labels]
        }
        if self.credentials:
            args["credentials"] = list(self.credentials)
        if self.credentials_from_input:
            args["credentials_from_input"] = list(self.credentials_from_input)
        return args

    # Execution on a worker ----------------------------------------------------------------------------------
    def handle(self, inv: Invocation, lifespan: Any = None) -> Any:
        claimed = inv.claimed
        ctx_class = DurableContext if self.durable else Context
        ctx = ctx_class(
            invocation=inv,
            task=self,
            workflow_run_id=str(claimed.run_id),
            task_run_id=str(claimed.step_id),
            parent_outputs=claimed.parent_outputs,
            additional_metadata=claimed.metadata,
            retry_count=claimed.attempt,
            max_attempts=claimed.retries + 1,
            priority=claimed.priority,
            workflow_name=claimed.workflow_name,
            task_name=self.name,
            worker_id=str(inv.worker_id) if inv.worker_id else None,
            parent_workflow_run_id=_parent_run_id(claimed.parent_step_id),
            lifespan=lifespan,
        )
        workflow_input = self.workflow.validate_input(claimed.input)
        token = current_context.set(ctx)
        try:
            if self.is_async:
                result = _run_coroutine(self.fn(workflow_input, ctx), inv)
            else:
                result = self.fn(workflow_input, ctx)
        finally:
            current_context.reset(token)
        return self.serialize_output(result)

    # Unit testing without a broker ----------------------------------------------------------------------
    def _mock_context(
        self,
        additional_metadata: dict[str, Any] | None,
        parent_outputs: dict[str, Any] | None,
        retry_count: int,
        lifespan: Any,
    ) -> Context:
        ctx_class = DurableContext if self.durable else Context
        return ctx_class(
            invocation=None,
            task=self,
            workflow_run_id="mock-workflow-run",
            task_run_id="mock-task-run",
            parent_outputs=dict(parent_outputs or {}),
            additional_metadata=dict(additional_metadata or {}),
            retry_count=retry_count,
            max_attempts=self.retries + 1,
            priority=1,
            workflow_name=self.workflow.name,
            task_name=self.name,
            lifespan=lifespan,
            task_run_errors={},
        )

    def mock_run(
        self,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        parent_outputs: dict[str, Any] | None = None,
        retry_count: int = 0,
        lifespan: Any = None,
        dependencies: dict[str, Any] | None = None,
    ) -> R:
        if self.is_async:
            raise TypeError(f"{self.name} is async; use aio_mock_run")
        ctx = self._mock_context(additional_metadata, parent_outputs, retry_count, lifespan)
        return cast(R, self.fn(self.workflow.validate_input(input), ctx))

    async def aio_mock_run(
        self,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        parent_outputs: dict[str, Any] | None = None,
        retry_count: int = 0,
        lifespan: Any = None,
        dependencies: dict[str, Any] | None = None,
    ) -> R:
        if not self.is_async:
            raise TypeError(f"{self.name} is sync; use mock_run")
        ctx = self._mock_context(additional_metadata, parent_outputs, retry_count, lifespan)
        return cast(R, await self.fn(self.workflow.validate_input(input), ctx))


def _return_adapter(fn: Callable[..., Any]) -> TypeAdapter[Any] | None:
    try:
        hint = get_type_hints(fn).get("return")
    except Exception:  # noqa: BLE001 - unresolvable annotations: no output validation
        return None
    if hint is None or hint is type(None):
        return None
    try:
        return TypeAdapter(hint)
    except Exception:  # noqa: BLE001 - a hint pydantic cannot handle: no output validation
        return None


def concurrency_spec(expression: ConcurrencyExpression) -> dict[str, Any]:
    return {
        "expression": expression.expression,
        "max_runs": expression.max_runs,
        "strategy": expression.limit_strategy.value,
        "name": expression.name,
        "is_tenant_scoped": expression.is_tenant_scoped,
    }


def rate_limit_spec(limit: RateLimit) -> dict[str, Any]:
    from sfpserver.hatchet.types import RATE_LIMIT_SECONDS

    return {
        "static_key": limit.static_key,
        "dynamic_key": limit.dynamic_key,
        "units": limit.units,
        "limit": None if limit.static_key else limit.limit,
        "window_seconds": RATE_LIMIT_SECONDS[limit.duration],
    }


def _concurrency_list(value: Any) -> list[ConcurrencyExpression]:
    if value is None:
        return []
    if isinstance(value, int):
        return [ConcurrencyExpression.from_int(value)]
    if isinstance(value, ConcurrencyExpression):
        return [value]
    return [ConcurrencyExpression.from_int(v) if isinstance(v, int) else v for v in value]


def _parent_run_id(parent_step_id: Any) -> str | None:
    if parent_step_id is None:
        return None
    from sfpserver.engine import services
    from sfpserver.hatchet.dbsync import run_db

    run_id = run_db(lambda: services.run_of_step(parent_step_id))
    return str(run_id) if run_id else None


def _run_coroutine(coro: Any, inv: Invocation) -> Any:
    """Run an async task on a loop of its own; a stop request cancels it (CancelledError inside the task)."""
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(coro)

        def stop() -> None:
            loop.call_soon_threadsafe(task.cancel)

        inv.on_stop(stop)
        try:
            return loop.run_until_complete(task)
        except asyncio.CancelledError:
            raise StepInterrupted(inv.stop_reason or "cancelled") from None
    finally:
        loop.close()


def _fall_back(value: Any, signature_default: Any, fallback: Any) -> Any:
    """Hatchet's TaskDefaults rule: a parameter left at its signature default takes the workflow's default."""
    return fallback if value == signature_default and fallback is not None else value


class BaseWorkflow(Generic[TWorkflowInput]):
    def __init__(
        self,
        client: Hatchet,
        *,
        name: str,
        description: str | None = None,
        input_validator: Any = None,
        on_events: list[str] | None = None,
        on_crons: list[str] | None = None,
        cron_input: Any = None,
        version: str | None = None,
        sticky: Any = None,
        default_priority: int | Priority = Priority.LOW,
        concurrency: int | ConcurrencyExpression | list[ConcurrencyExpression] | None = None,
        task_defaults: TaskDefaults | None = None,
        default_filters: list[Any] | None = None,
        default_additional_metadata: dict[str, Any] | None = None,
        idempotency: Any = None,
    ) -> None:
        self._client = client
        self.name = name
        self.description = description
        self.input_validator = input_validator or EmptyModel
        self._input_adapter = _adapter(self.input_validator)
        self.on_events = list(on_events or [])
        self.on_crons = list(on_crons or [])
        self.cron_input = cron_input
        self.version = version
        self.sticky = sticky
        self.default_priority = int(default_priority)
        self.concurrency = _concurrency_list(concurrency)
        self.task_defaults = task_defaults or TaskDefaults()
        self.default_additional_metadata = dict(default_additional_metadata or {})
        self.tasks: list[Task[TWorkflowInput, Any]] = []
        self.on_failure: Task[TWorkflowInput, Any] | None = None
        self.on_success: Task[TWorkflowInput, Any] | None = None

    @property
    def service_name(self) -> str:
        return self.name.lower()

    @property
    def id(self) -> str:
        return self.name

    # Input -----------------------------------------------------------------------------------------------
    def validate_input(self, raw: Any, *, at_trigger: bool = False) -> Any:
        """The typed input. At trigger, validators see the context `{"at_trigger": True}` (an extension: checks
        that read the database, such as which credentials an input may name, run then and not on the worker)."""
        context = TRIGGER_CONTEXT if at_trigger else None
        return self._input_adapter.validate_python(raw if raw is not None else {}, context=context)

    def serialize_input(self, value: Any) -> Any:
        if value is None or (isinstance(value, EmptyModel) and not value.model_dump()):
            return None
        data = to_jsonable(self._input_adapter, value)
        return data or None

    # Definition -------------------------------------------------------------------------------------------
    def all_tasks(self) -> list[Task[TWorkflowInput, Any]]:
        return [
            *self.tasks,
            *([self.on_failure] if self.on_failure else []),
            *([self.on_success] if self.on_success else []),
        ]

    def to_definition(self) -> WorkflowDef:
        """The engine definition; raises ValueError for what Hatchet refuses at registration."""
        if not self.tasks:
            raise ValueError(f"Workflow {self.name} has no tasks")
        names = [t.name for t in self.all_tasks()]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"Duplicate task names found in workflow {self.name}: {', '.join(dupes)}")
        for task in self.tasks:
            for parent in task.parents:
                if parent.workflow is not self:
                    raise ValueError(
                        f"Task {task.name} in workflow {self.name} has parent {parent.name} "
                        f"from another workflow ({parent.workflow.name})"
                    )
        from sfpserver.hatchet.features import validate_cron

        for expression in self.on_crons:
            validate_cron(expression)
        steps = [t.to_step() for t in self.all_tasks()]
        if self.on_success is not None:
            children = {p.name for t in self.tasks for p in t.parents}
            leaves = tuple(t.name for t in self.tasks if t.name not in children)
            steps[-1] = dataclasses.replace(steps[-1], parents=leaves)
        return WorkflowDef(
            name=self.name,
            steps=tuple(steps),
            default_priority=self.default_priority,
            default_metadata=self.default_additional_metadata,
            triggers=self.spec_extras(),
            input_validator=self._engine_input,
            concurrency=tuple(concurrency_spec(c) for c in self.concurrency),
        ).validate()

    def _engine_input(self, raw: Any) -> Any:
        """Validates input at trigger time, wherever the run is triggered from (SDK, API, cron). The error
        names each field and problem but never quotes the input (it may hold something secret)."""
        try:
            return self.serialize_input(self.validate_input(raw, at_trigger=True))
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'input'}: {e['msg']}" for e in exc.errors())
            raise ValueError(problems) from None

    def spec_extras(self) -> dict[str, Any]:
        return {
            "on_events": self.on_events,
            "on_crons": self.on_crons,
            "cron_input": self.serialize_input(self.cron_input) if self.cron_input is not None else None,
        }

    def handlers(self, lifespan: Callable[[], Any] | None = None) -> dict[str, Callable[[Any], Any]]:
        return {t.action: _bind(t, lifespan) for t in self.all_tasks()}

    # Triggering ----------------------------------------------------------------------------------------
    def _trigger(
        self,
        input: Any,
        options: TriggerWorkflowOptions | None,
        *,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> str:
        from sfpserver.hatchet.runs import trigger_workflow

        opts = options or TriggerWorkflowOptions()
        return trigger_workflow(
            self,
            self.serialize_input(input),
            child_key=child_key or opts.child_key,
            child_index=opts.child_index,
            additional_metadata={**opts.additional_metadata, **(additional_metadata or {})},
            priority=priority if priority is not None else opts.priority,
        )

    def create_bulk_run_item(
        self,
        input: Any = None,
        key: str | None = None,
        options: TriggerWorkflowOptions | None = None,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        desired_worker_id: str | None = None,
        sticky: bool = False,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
    ) -> WorkflowRunTriggerConfig:
        opts = (options or TriggerWorkflowOptions()).model_copy(
            update={
                "child_key": child_key or (options.child_key if options else None),
                "additional_metadata": {
                    **((options.additional_metadata if options else {}) or {}),
                    **(additional_metadata or {}),
                },
                "priority": priority if priority is not None else (options.priority if options else None),
            }
        )
        return WorkflowRunTriggerConfig(
            workflow_name=self.name, input=self.serialize_input(input), options=opts, key=key
        )

    def _trigger_many(self, workflows: list[WorkflowRunTriggerConfig]) -> list[str]:
        from sfpserver.hatchet.runs import trigger_workflows

        return trigger_workflows(self, workflows)

    def schedule(
        self,
        run_at: datetime,
        input: Any = None,
        options: Any = None,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> Any:
        return self._client.scheduled.create(
            workflow_name=self.name,
            trigger_at=run_at,
            input=self.serialize_input(input) or {},
            additional_metadata=additional_metadata or {},
            priority=priority,
        )

    async def aio_schedule(self, run_at: datetime, input: Any = None, **kwargs: Any) -> Any:
        from sfpserver.hatchet.dbsync import aio_db

        return await aio_db(lambda: self.schedule(run_at, input, **kwargs))

    def create_cron(
        self,
        cron_name: str,
        expression: str,
        input: Any = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
    ) -> Any:
        return self._client.cron.create(
            workflow_name=self.name,
            cron_name=cron_name,
            expression=expression,
            input=self.serialize_input(input) or {},
            additional_metadata=additional_metadata or {},
            priority=priority,
        )

    async def aio_create_cron(self, cron_name: str, expression: str, input: Any = None, **kwargs: Any) -> Any:
        from sfpserver.hatchet.dbsync import aio_db

        return await aio_db(lambda: self.create_cron(cron_name, expression, input, **kwargs))

    def list_runs(self, **filters: Any) -> list[Any]:
        return list(self._client.runs.list(workflow_ids=[self.name], **filters).rows)


def _bind(task: Task[Any, Any], lifespan: Callable[[], Any] | None) -> Callable[[Any], Any]:
    def handler(inv: Invocation) -> Any:
        return task.handle(inv, lifespan() if lifespan else None)

    return handler


class Workflow(BaseWorkflow[TWorkflowInput]):
    def task(
        self,
        name: str | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        parents: list[Task[TWorkflowInput, Any]] | None = None,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | None = None,
        wait_for: list[Any] | None = None,
        skip_if: list[Any] | None = None,
        cancel_if: list[Any] | None = None,
        slot_cost: int | None = None,
        _durable: bool = False,
        credentials: list[str] | None = None,
        credentials_from_input: list[str] | None = None,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        defaults = self.task_defaults

        def decorator(fn: Callable[..., R]) -> Task[TWorkflowInput, R]:
            task: Task[TWorkflowInput, R] = Task(
                fn,
                self,
                name=name or fn.__name__,
                schedule_timeout=_fall_back(schedule_timeout, DEFAULT_SCHEDULE_TIMEOUT, defaults.schedule_timeout),
                execution_timeout=_fall_back(execution_timeout, DEFAULT_EXECUTION_TIMEOUT, defaults.execution_timeout),
                parents=parents,
                retries=_fall_back(retries, 0, defaults.retries),
                rate_limits=rate_limits,
                desired_worker_labels=desired_worker_labels,
                backoff_factor=_fall_back(backoff_factor, None, defaults.backoff_factor),
                backoff_max_seconds=_fall_back(backoff_max_seconds, None, defaults.backoff_max_seconds),
                concurrency=concurrency,
                slot_cost=slot_cost,
                durable=_durable,
                credentials=credentials,
                credentials_from_input=credentials_from_input,
            )
            self.tasks.append(task)
            return task

        return decorator

    def durable_task(
        self, name: str | None = None, **kwargs: Any
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        kwargs.pop("eviction_policy", None)
        return self.task(name, **kwargs, _durable=True)

    def _hook(
        self, kind: str, suffix: str, name: str | None, **kwargs: Any
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        def decorator(fn: Callable[..., R]) -> Task[TWorkflowInput, R]:
            current = self.on_failure if kind == "ON_FAILURE" else self.on_success
            if current is not None:
                raise ValueError(f"Workflow {self.name} already has an {suffix.strip('-').replace('-', ' ')} task")
            task: Task[TWorkflowInput, R] = Task(
                fn, self, name=f"{(name or fn.__name__).lower()}{suffix}", kind=kind, **kwargs
            )
            if kind == "ON_FAILURE":
                self.on_failure = task
            else:
                self.on_success = task
            return task

        return decorator

    def on_failure_task(
        self,
        name: str | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | None = None,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        return self._hook(
            "ON_FAILURE",
            "-on-failure",
            name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            retries=retries,
            rate_limits=rate_limits,
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
            concurrency=concurrency,
        )

    def on_success_task(
        self,
        name: str | None = None,
        schedule_timeout: Duration = DEFAULT_SCHEDULE_TIMEOUT,
        execution_timeout: Duration = DEFAULT_EXECUTION_TIMEOUT,
        retries: int = 0,
        rate_limits: list[RateLimit] | None = None,
        backoff_factor: float | None = None,
        backoff_max_seconds: int | None = None,
        concurrency: int | list[ConcurrencyExpression] | None = None,
    ) -> Callable[[Callable[..., R]], Task[TWorkflowInput, R]]:
        return self._hook(
            "ON_SUCCESS",
            "-on-success",
            name,
            schedule_timeout=schedule_timeout,
            execution_timeout=execution_timeout,
            retries=retries,
            rate_limits=rate_limits,
            backoff_factor=backoff_factor,
            backoff_max_seconds=backoff_max_seconds,
            concurrency=concurrency,
        )

    def add_task(self, task: Standalone[Any, Any]) -> None:
        original = task._task
        copy: Task[TWorkflowInput, Any] = Task(
            original.fn,
            self,
            name=original.name,
            schedule_timeout=original.schedule_timeout,
            execution_timeout=original.execution_timeout,
            retries=original.retries,
            rate_limits=original.rate_limits,
            desired_worker_labels=original.desired_worker_labels,
            backoff_factor=original.backoff_factor,
            backoff_max_seconds=original.backoff_max_seconds,
            concurrency=original.concurrency,
        )
        self.tasks.append(copy)

    # Running ---------------------------------------------------------------------------------------------
    def run(
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        sticky: bool = False,
        desired_worker_id: str | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
    ) -> Any:
        ref = self._ref(
            self._trigger(
                input, options, child_key=child_key, additional_metadata=additional_metadata, priority=priority
            )
        )
        return ref.result() if wait_for_result else ref

    async def aio_run(
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        child_key: str | None = None,
        additional_metadata: dict[str, Any] | None = None,
        priority: int | None = None,
        sticky: bool = False,
        desired_worker_id: str | None = None,
        desired_worker_labels: list[DesiredWorkerLabel] | None = None,
    ) -> Any:
        from sfpserver.hatchet.dbsync import aio_db

        ctx = contextvars.copy_context()
        run_id = await aio_db(
            lambda: ctx.run(
                self._trigger,
                input,
                options,
                child_key=child_key,
                additional_metadata=additional_metadata,
                priority=priority,
            )
        )
        ref = self._ref(run_id)
        return await ref.aio_result() if wait_for_result else ref

    def run_no_wait(self, input: Any = None, options: TriggerWorkflowOptions | None = None, **kwargs: Any) -> Any:
        warn("run_no_wait is deprecated; use run(wait_for_result=False)", DeprecationWarning, stacklevel=2)
        return self.run(input, options, wait_for_result=False, **kwargs)

    async def aio_run_no_wait(
        self, input: Any = None, options: TriggerWorkflowOptions | None = None, **kwargs: Any
    ) -> Any:
        warn("aio_run_no_wait is deprecated; use aio_run(wait_for_result=False)", DeprecationWarning, stacklevel=2)
        return await self.aio_run(input, options, wait_for_result=False, **kwargs)

    def run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        refs = [self._ref(run_id) for run_id in self._trigger_many(workflows)]
        if not wait_for_result:
            return refs
        results: list[Any] = []
        for ref in refs:
            try:
                results.append(ref.result())
            except Exception as exc:
                if not return_exceptions:
                    raise
                results.append(exc)
        return results

    async def aio_run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        from sfpserver.hatchet.dbsync import aio_db

        ctx = contextvars.copy_context()
        run_ids = await aio_db(lambda: ctx.run(self._trigger_many, workflows))
        refs = [self._ref(run_id) for run_id in run_ids]
        if not wait_for_result:
            return refs
        return list(await asyncio.gather(*(r.aio_result() for r in refs), return_exceptions=return_exceptions))

    def run_many_no_wait(self, workflows: list[WorkflowRunTriggerConfig]) -> list[Any]:
        warn("run_many_no_wait is deprecated; use run_many(wait_for_result=False)", DeprecationWarning, stacklevel=2)
        return self.run_many(workflows, wait_for_result=False)

    async def aio_run_many_no_wait(self, workflows: list[WorkflowRunTriggerConfig]) -> list[Any]:
        warn("aio_run_many_no_wait is deprecated", DeprecationWarning, stacklevel=2)
        return await self.aio_run_many(workflows, wait_for_result=False)

    def _ref(self, run_id: str) -> WorkflowRunRef:
        from sfpserver.hatchet.runs import WorkflowRunRef

        return WorkflowRunRef(run_id)


class Standalone(Workflow[TWorkflowInput], Generic[TWorkflowInput, R]):
    """A single-task workflow whose run() returns the task's typed output."""

    @property
    def _task(self) -> Task[TWorkflowInput, R]:
        return self.tasks[0]

    def _extract(self, result: dict[str, Any]) -> R:
        output = result.get(self._task.name) or result or {}
        return cast(R, self._task.validate_output(output))

    def run(  # type: ignore[override]
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        **kwargs: Any,
    ) -> Any:
        ref = super().run(input, options, wait_for_result=False, **kwargs)
        task_ref = self._task_ref(ref.workflow_run_id)
        return task_ref.result() if wait_for_result else task_ref

    async def aio_run(  # type: ignore[override]
        self,
        input: Any = None,
        options: TriggerWorkflowOptions | None = None,
        wait_for_result: bool = True,
        **kwargs: Any,
    ) -> Any:
        ref = await super().aio_run(input, options, wait_for_result=False, **kwargs)
        task_ref = self._task_ref(ref.workflow_run_id)
        return await task_ref.aio_result() if wait_for_result else task_ref

    def run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        results = super().run_many(workflows, return_exceptions=return_exceptions, wait_for_result=wait_for_result)
        if not wait_for_result:
            return [self._task_ref(r.workflow_run_id) for r in results]
        return [r if isinstance(r, BaseException) else self._extract(r) for r in results]

    async def aio_run_many(
        self, workflows: list[WorkflowRunTriggerConfig], return_exceptions: bool = False, wait_for_result: bool = True
    ) -> list[Any]:
        results = await super().aio_run_many(
            workflows, return_exceptions=return_exceptions, wait_for_result=wait_for_result
        )
        if not wait_for_result:
            return [self._task_ref(r.workflow_run_id) for r in results]
        return [r if isinstance(r, BaseException) else self._extract(r) for r in results]

    def _task_ref(self, run_id: str) -> TaskRunRef[R]:
        from sfpserver.hatchet.runs import TaskRunRef

        return TaskRunRef(run_id, self)

    def get_run_ref(self, run_id: str) -> TaskRunRef[R]:
        return self._task_ref(run_id)

    def get_result(self, run_id: str) -> R:
        return self._task_ref(run_id).result()

    async def aio_get_result(self, run_id: str) -> R:
        return await self._task_ref(run_id).aio_result()

    def mock_run(self, *args: Any, **kwargs: Any) -> R:
        return self._task.mock_run(*args, **kwargs)

    async def aio_mock_run(self, *args: Any, **kwargs: Any) -> R:
        return await self._task.aio_mock_run(*args, **kwargs)

    @property
    def output_validator(self) -> TypeAdapter[Any] | None:
        return self._task.output_validator


def utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
