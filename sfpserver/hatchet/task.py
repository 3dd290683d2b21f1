"""A task: the user's function with its options, run on a worker (`handle`) or in a unit test (`mock_run`).

A task knows its workflow only as the owner of its name and input; turning it into an engine step is the
business of `definition`, triggering that of `trigger` (as Hatchet's `runnables/task.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import inspect
import json
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from typing import TYPE_CHECKING, Any, Generic, TypeVar, cast, get_type_hints

from pydantic import BaseModel, TypeAdapter

from sfpserver.engine.services import StepInterrupted
from sfpserver.hatchet import tracing
from sfpserver.hatchet.context import Context, DurableContext
from sfpserver.hatchet.contextvars import action_key, ctx_action_key, current_context, workflow_spawn_indices
from sfpserver.hatchet.depends import Depends, InvalidDependencyError, dependencies_of, resolve
from sfpserver.hatchet.exceptions import IllegalTaskOutputError, RetryAfterException
from sfpserver.hatchet.options import TaskOptions
from sfpserver.hatchet.serde import HATCHET_PYDANTIC_SENTINEL
from sfpserver.hatchet.unsupported import unsupported

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation
    from sfpserver.hatchet.workflow import BaseWorkflow

TWorkflowInput = TypeVar("TWorkflowInput")
R = TypeVar("R")

__all__ = ["ACTION_PREFIX", "Depends", "InvalidDependencyError", "Task"]

ACTION_PREFIX = "hatchet"


class Task(Generic[TWorkflowInput, R]):
    def __init__(
        self,
        fn: Callable[..., Any],
        workflow: BaseWorkflow[TWorkflowInput],
        options: TaskOptions,
        *,
        kind: str = "TASK",
    ) -> None:
        self.fn = fn
        self.workflow = workflow
        self.options = options
        self.name = (options.name or fn.__name__).lower()
        self.kind = kind
        self.is_async = inspect.iscoroutinefunction(fn)
        self._output_adapter = _return_adapter(fn)
        self._dependencies = dependencies_of(fn)
        if options.batch is not None:  # each member's output is one value of what the function returns
            from sfpserver.hatchet.batch_options import member_adapter

            self._output_adapter = member_adapter(fn, options.batch.broadcast)
        options.warn_unsupported()

    # Hatchet's attribute names, read from the options ---------------------------------------------------------
    @property
    def schedule_timeout(self) -> Any:
        return self.options.schedule_timeout

    @property
    def execution_timeout(self) -> Any:
        return self.options.execution_timeout

    @property
    def parents(self) -> list[Task[Any, Any]]:
        return list(self.options.parents)

    @property
    def retries(self) -> int:
        return self.options.retries

    @property
    def durable(self) -> bool:
        return self.options.durable

    @property
    def output_validator(self) -> TypeAdapter[Any] | None:
        return self._output_adapter

    @property
    def action(self) -> str:
        return f"{ACTION_PREFIX}:{self.workflow.name}:{self.name}"

    # Output ---------------------------------------------------------------------------------------------------
    def validate_output(self, data: Any) -> Any:
        if self._output_adapter is None or data is None:
            return data
        return self._output_adapter.validate_python(data, context=HATCHET_PYDANTIC_SENTINEL)

    def serialize_output(self, value: Any) -> Any:
        if not value:
            return None
        if isinstance(value, BaseModel):
            data = value.model_dump(mode="json", context=HATCHET_PYDANTIC_SENTINEL)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            data = TypeAdapter(type(value)).dump_python(value, mode="json", context=HATCHET_PYDANTIC_SENTINEL)
        elif isinstance(value, dict):
            adapter = self._output_adapter or TypeAdapter(dict)
            data = adapter.dump_python(value, mode="json", context=HATCHET_PYDANTIC_SENTINEL)
        else:
            raise IllegalTaskOutputError(
                f"Tasks must return either a dictionary, a Pydantic BaseModel, or a dataclass which can be "
                f"serialized to a JSON object. Got object of type {type(value)} instead."
            )
        if "\\u0000" in json.dumps(data):
            raise IllegalTaskOutputError("task outputs cannot contain the unicode null character \\u0000")
        return data

    # Execution on a worker ----------------------------------------------------------------------------------
    def context_for(self, inv: Invocation, lifespan: Any = None) -> Context:
        """The Context of the attempt `inv` (a batch's: that of its first member, batch.py)."""
        claimed = inv.claimed
        ctx_class = DurableContext if self.durable else Context
        return ctx_class(
            invocation=inv,
            task=self,
            workflow_run_id=str(claimed.run_id),
            task_run_id=str(claimed.step_id),
            parent_outputs=claimed.parent_outputs,
            additional_metadata=claimed.metadata,
            retry_count=inv.retry_count,
            max_attempts=claimed.retries + 1,
            priority=claimed.priority,
            workflow_name=claimed.workflow_name,
            task_name=self.name,
            worker_id=str(inv.worker_id) if inv.worker_id else None,
            parent_workflow_run_id=_parent_run_id(claimed.parent_step_id),
            lifespan=lifespan,
        )

    def handle(self, inv: Invocation, lifespan: Any = None) -> Any:
        claimed = inv.claimed
        ctx = self.context_for(inv, lifespan)
        values = _span_values(self, ctx) if tracing.enabled() else {}
        with tracing.attempt_span("hatchet.start_step_run", claimed.metadata, values):
            workflow_input = self.workflow.validate_input(claimed.input)
            token = current_context.set(ctx)
            key = action_key(ctx.task_run_id, ctx.retry_count)
            key_token = ctx_action_key.set(key)
            try:
                with _retry_after_is_unsupported():
                    if self.is_async:
                        result = _run_coroutine(self._acall(workflow_input, ctx), inv)
                    else:
                        result = self._call(workflow_input, ctx)
            finally:
                current_context.reset(token)
                ctx_action_key.reset(key_token)
                workflow_spawn_indices.pop(key, None)
            return self.serialize_output(result)

    # Calling the function with its dependencies (depends.py) ---------------------------------------------------
    async def _acall(self, workflow_input: Any, ctx: Context, given: dict[str, Any] | None = None) -> Any:
        if given is not None or not self._dependencies:
            return await self.fn(workflow_input, ctx, **(given or {}))
        async with AsyncExitStack() as stack:
            return await self.fn(workflow_input, ctx, **await resolve(self.fn, workflow_input, ctx, stack))

    def _call(self, workflow_input: Any, ctx: Context, given: dict[str, Any] | None = None) -> Any:
        """A sync task: its providers (sync or async) run on a loop of their own in this thread, and the context
        managers they gave are exited after the task returns or raises."""
        if given is not None or not self._dependencies:
            return self.fn(workflow_input, ctx, **(given or {}))
        loop = asyncio.new_event_loop()
        stack = AsyncExitStack()
        try:
            dependencies = loop.run_until_complete(resolve(self.fn, workflow_input, ctx, stack))
            return self.fn(workflow_input, ctx, **dependencies)
        finally:
            try:
                loop.run_until_complete(stack.aclose())
            finally:
                loop.close()

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
        with _retry_after_is_unsupported():
            return cast(R, self._call(self.workflow.validate_input(input), ctx, dependencies))

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
        with _retry_after_is_unsupported():
            return cast(R, await self._acall(self.workflow.validate_input(input), ctx, dependencies))


@contextlib.contextmanager
def _retry_after_is_unsupported() -> Iterator[None]:
    """A RetryAfterException is failed and retried as any other exception: say so, once."""
    try:
        yield
    except RetryAfterException:
        unsupported("RetryAfterException", "task")
        raise


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


def _span_values(task: Task[Any, Any], ctx: Context) -> dict[str, Any]:
    """The attributes of an attempt's span (Hatchet's names, under `hatchet.`)."""
    return {
        "workflow_run_id": ctx.workflow_run_id,
        "step_run_id": ctx.task_run_id,
        "workflow_name": ctx.workflow_name,
        "step_name": task.name,
        "action_name": task.action,
        "retry_count": ctx.retry_count,
        "worker_id": ctx.worker_id,
        "parent_workflow_run_id": ctx.parent_workflow_run_id,
    }


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
