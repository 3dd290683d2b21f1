"""`Context`: what a task sees of its run, as in Hatchet (reference/hatchet-sdk.md §1.9)."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any
from uuid import UUID
from warnings import warn

from pydantic import TypeAdapter

from sfpserver.hatchet.conditions import (
    OrGroup,
    SleepCondition,
    UserEventCondition,
    expr_to_timedelta,
    timedelta_to_expr,
    to_engine,
)
from sfpserver.hatchet.dbsync import aio_db, run_db
from sfpserver.hatchet.exceptions import NonDeterminismError, TaskRunError
from sfpserver.hatchet.types import Duration, SleepResult, duration_seconds
from sfpserver.hatchet.unsupported import unsupported
from sfpserver.hatchet.worker_context import WorkerContext, current_labels, upsert

if TYPE_CHECKING:
    from sfpserver.engine.services import Invocation
    from sfpserver.hatchet.task import Task

logger = logging.getLogger(__name__)


class Context:
    def __init__(
        self,
        *,
        invocation: Invocation | None,
        task: Task[Any, Any] | None,
        workflow_run_id: str,
        task_run_id: str,
        parent_outputs: dict[str, Any],
        additional_metadata: dict[str, Any],
        retry_count: int,
        max_attempts: int,
        priority: int,
        workflow_name: str,
        task_name: str,
        worker_id: str | None = None,
        parent_workflow_run_id: str | None = None,
        child_index: int | None = None,
        child_key: str | None = None,
        lifespan: Any = None,
        task_run_errors: dict[str, str] | None = None,
    ) -> None:
        self._inv = invocation
        self._task = task
        self._parent_outputs = parent_outputs
        self._task_run_errors = task_run_errors
        self._mock_cancelled = False
        self.workflow_run_id = workflow_run_id
        self.task_run_id = task_run_id
        self.additional_metadata = additional_metadata
        self.retry_count = retry_count
        self.attempt_number = retry_count + 1
        self.max_attempts = max_attempts
        self.priority = priority
        self.workflow_name = workflow_name
        self.task_name = task_name
        self.worker_id = worker_id
        self.parent_workflow_run_id = parent_workflow_run_id
        self.child_index = child_index
        self.child_key = child_key
        self.lifespan = lifespan
        # the payload of the event filter that started this run (sfpserver/hatchet/eventfilters.py)
        self.filter_payload: dict[str, Any] = dict(additional_metadata.get("hatchet__filter_payload") or {})
        self.triggering_event_id = additional_metadata.get("hatchet__event_id")
        self.triggering_event_key = additional_metadata.get("hatchet__event_key")

    # Parents ---------------------------------------------------------------------------------------------
    def task_output(self, task: Task[Any, Any]) -> Any:
        if task.name not in self._parent_outputs:
            raise ValueError(f"{task.name} is not a parent of this task or has no output")
        data = self._parent_outputs[task.name]
        if data is None and task.name in self.task_run_errors:  # failed, and continued past (README)
            raise ValueError(f"{task.name} failed; read its error with ctx.get_task_run_error")
        if isinstance(data, dict) and data.get("skipped") is True:
            raise ValueError(f"{task.name} was skipped")
        return task.validate_output(data)

    def was_skipped(self, task: Task[Any, Any]) -> bool:
        data = self._parent_outputs.get(task.name)
        return isinstance(data, dict) and data.get("skipped") is True

    @property
    def was_triggered_by_event(self) -> bool:
        return self.triggering_event_id is not None

    @property
    def step_run_id(self) -> str:
        return self.task_run_id

    # The worker ------------------------------------------------------------------------------------------
    @property
    def worker(self) -> WorkerContext:
        return WorkerContext(self.worker_id)

    @property
    def worker_labels(self) -> dict[str, str | int]:
        return current_labels()

    def upsert_worker_labels(self, labels: dict[str, str | int]) -> None:
        upsert(self.worker_id, labels)

    async def aio_upsert_worker_labels(self, labels: dict[str, str | int]) -> None:
        await asyncio.to_thread(self.upsert_worker_labels, labels)

    # Reporting -------------------------------------------------------------------------------------------
    def log(self, line: str | dict[str, Any] | Any, raise_on_error: bool = False) -> None:
        text = json.dumps(line) if isinstance(line, dict) else str(line)
        logger.info(text, extra={"run_id": self.workflow_run_id, "step": self.task_name})
        if self._inv is not None:
            inv = self._inv
            run_db(lambda: inv.log(text))

    async def aio_log(self, line: str | dict[str, Any] | Any, raise_on_error: bool = False) -> None:
        text = json.dumps(line) if isinstance(line, dict) else str(line)
        if self._inv is not None:
            inv = self._inv
            await aio_db(lambda: inv.log(text))

    def put_stream(self, data: str | bytes) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        if self._inv is not None:
            inv = self._inv
            try:
                run_db(lambda: inv.put_stream(text))
            except Exception:  # noqa: BLE001 - Hatchet swallows stream errors
                logger.warning("could not record a stream chunk", extra={"run_id": self.workflow_run_id})

    async def aio_put_stream(self, data: str | bytes) -> None:
        text = data.decode() if isinstance(data, bytes) else str(data)
        if self._inv is not None:
            inv = self._inv
            await aio_db(lambda: inv.put_stream(text))

    # Extensions (not in Hatchet) ----------------------------------------------------------------------
    @property
    def invocation(self) -> Invocation | None:
        """The engine's view of this attempt (None in mock runs): leases, stop callbacks."""
        return self._inv

    def progress(self, percent: float, message: str = "") -> None:
        """Record a progress event (0-100) for this attempt; shown by the API and the live feed."""
        if self._inv is not None:
            inv = self._inv
            run_db(lambda: inv.progress(max(0.0, min(100.0, float(percent))), message))

    def refresh_timeout(self, increment_by: Duration) -> None:
        if isinstance(increment_by, str):
            warn("passing a string duration is deprecated; use a timedelta", DeprecationWarning, stacklevel=2)
        seconds = duration_seconds(increment_by, 0)
        if self._inv is not None:
            inv = self._inv
            run_db(lambda: inv.refresh_timeout(seconds))

    async def aio_refresh_timeout(self, increment_by: Duration) -> None:
        seconds = duration_seconds(increment_by, 0)
        if self._inv is not None:
            inv = self._inv
            await aio_db(lambda: inv.refresh_timeout(seconds))

    def release_slot(self) -> None:
        """Accepted for compatibility; see the README: the slot is released when the task ends."""
        unsupported("release_slot", "Context")

    async def aio_release_slot(self) -> None:
        self.release_slot()

    # Cancellation ----------------------------------------------------------------------------------------
    def cancel(self) -> None:
        from sfpserver.engine import services

        if self._inv is None:
            self._mock_cancelled = True
            return
        inv = self._inv
        run_db(lambda: services.cancel_step(inv.step_id, "cancelled by the task itself"))
        inv.cancelled.set()

    async def aio_cancel(self) -> None:
        from sfpserver.engine import services

        if self._inv is None:
            self._mock_cancelled = True
            return
        inv = self._inv
        await aio_db(lambda: services.cancel_step(inv.step_id, "cancelled by the task itself"))
        inv.cancelled.set()

    @property
    def is_cancelled(self) -> bool:
        return self._inv.cancelled.is_set() if self._inv is not None else self._mock_cancelled

    @property
    def exit_flag(self) -> bool:
        return self.is_cancelled

    def done(self) -> bool:
        return self.is_cancelled

    # Errors of other tasks (on-failure tasks) ------------------------------------------------------------
    @property
    def task_run_errors(self) -> dict[str, str]:
        if self._task_run_errors is None:
            self._task_run_errors = run_db(lambda: _failed_task_errors(self.workflow_run_id))
        return self._task_run_errors

    def get_task_run_error(self, task: Task[Any, Any]) -> TaskRunError | None:
        serialized = self.task_run_errors.get(task.name)
        return TaskRunError.deserialize(serialized) if serialized else None

    def fetch_task_run_error(self, task: Task[Any, Any]) -> str | None:
        warn("fetch_task_run_error is deprecated; use get_task_run_error", DeprecationWarning, stacklevel=2)
        return self.task_run_errors.get(task.name)


def _failed_task_errors(run_id: str) -> dict[str, str]:
    from sfpserver.engine import services
    from sfpserver.hatchet.refs import task_run_error

    failed = services.steps_of([UUID(run_id)], status=services.StepStatus.FAILED)
    return {step.name: task_run_error(step).serialize(include_metadata=True) for step in failed}


class DurableContext(Context):
    """A durable task's context (Hatchet's): its waits, sleeps, remembered values and spawned children are
    entries of the task's log in Postgres (sfpserver/engine/durable.py), each at the next index. A wait not
    answered at once evicts the task (its slot frees; the policy's ttl, or ENGINE_DURABLE_EVICT_AFTER, may keep it
    a while); once answered, the task runs again from the start on any worker and every entry already in the log
    answers from the record. Plain code between the waits runs again on each replay."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._wait_index = 0
        self._spawn_counts: dict[str, int] = {}  # spawns of each key so far in this invocation

    @property
    def wait_index(self) -> int:
        return self._wait_index

    def _next_index(self) -> int:
        index = self._wait_index
        self._wait_index += 1
        return index

    @property
    def invocation_count(self) -> int:
        return self._inv.attempt + 1 if self._inv is not None else 1

    # Waits -------------------------------------------------------------------------------------------------
    async def aio_wait_for(
        self, signal_key: str, *conditions: SleepCondition | UserEventCondition | OrGroup, label: str | None = None
    ) -> dict[str, Any]:
        """Wait until every condition (an `or_` group: one of its conditions) holds; Hatchet's result,
        {"CREATE": {readable_data_key: [payload]}}, names the ones that did."""
        return await self._wait(self._next_index(), "wait", list(conditions))

    async def aio_sleep_for(self, duration: Duration, label: str | None = None) -> SleepResult:
        index = self._next_index()
        result = await self._wait(index, "sleep", [SleepCondition(duration)])
        hits: list[Any] = next(iter(result.get("CREATE", {}).values()), [{}])
        return SleepResult(duration=expr_to_timedelta(hits[0].get("sleep_duration") or timedelta_to_expr(duration)))

    async def aio_sleep_until(self, wake_at: datetime, label: str | None = None) -> SleepResult:
        now = await self.aio_now()
        return await self.aio_sleep_for(max(wake_at - now, timedelta(0)), label=label)

    async def aio_wait_for_event(
        self,
        key: str,
        expression: str | None = None,
        *,
        payload_validator: type[Any] | None = None,
        scope: str | None = None,
        lookback_window: timedelta | None = None,
        label: str | None = None,
    ) -> Any:
        """The payload of the first event `key` pushed after this wait (matching `expression` and `scope`); with
        `scope` and `lookback_window`, an event pushed that long before the wait counts too."""
        if bool(lookback_window) != bool(scope):
            raise ValueError("Both `lookback_window` and scope must be provided together")
        since = (await self.aio_now()) - lookback_window if lookback_window else None
        condition = UserEventCondition(key, expression, scope=scope, consider_events_since=since)
        result = await self._wait(self._next_index(), "event", [condition])
        hits: list[Any] = next(iter(result.get("CREATE", {}).values()), [{}])
        if payload_validator is not None:
            return TypeAdapter(payload_validator).validate_python(hits[0])
        return hits[0]

    async def _wait(self, index: int, kind: str, conditions: list[Any]) -> dict[str, Any]:
        from sfpserver.engine import services
        from sfpserver.hatchet.features import lookback

        if self._inv is None:
            return await _mock_wait(conditions)
        inv = self._inv
        evict_after = self._evict_after()
        engine_conditions = to_engine(conditions, _now())
        evict_now = evict_after == 0 or inv.evict_requested.is_set()
        outcome = await aio_db(
            lambda: services.durable_wait(
                inv.step_id, inv.attempt, index, kind, engine_conditions, lookback=lookback, evict_now=evict_now
            )
        )
        deadline = None if evict_after is None else time.monotonic() + evict_after
        while outcome.state == "waiting":
            await asyncio.sleep(POLL_SECONDS)
            assert outcome.wait_id is not None
            wait_id = outcome.wait_id
            poll = await aio_db(partial(services.durable_poll, wait_id))
            if poll.answered:
                return dict(poll.result or {})
            leave = poll.draining or inv.evict_requested.is_set()
            if leave or (deadline is not None and time.monotonic() >= deadline):
                outcome = await aio_db(partial(services.durable_evict_at, inv.step_id, inv.attempt, wait_id))
        return self._answer(index, outcome)

    def _answer(self, index: int, outcome: Any) -> Any:
        from sfpserver.engine.services import DurableEvicted

        if outcome.state == "answered":
            return outcome.result if not isinstance(outcome.result, dict) else dict(outcome.result)
        if outcome.state == "diverged":
            (kind, key), (asked_kind, asked_key) = outcome.recorded, outcome.asked
            message = (
                f"Non-determinism detected in task {self.task_run_id} at node {index + 1}: the replay asked for "
                f"{asked_kind} {asked_key!r}, but the log recorded {kind} {key!r} there"
            )
            raise NonDeterminismError(self.task_run_id, self.invocation_count, message, index + 1)
        raise DurableEvicted(outcome.state)  # evicted, or the attempt is no longer current: stop here

    def _evict_after(self) -> float | None:
        from django.conf import settings

        policy = self._task.options.eviction_policy if self._task is not None else None
        if policy is None:
            return float(settings.ENGINE_DURABLE_EVICT_AFTER)
        ttl = getattr(policy, "ttl", None)
        return None if ttl is None else max(ttl.total_seconds(), 0.0)

    # Remembered values -------------------------------------------------------------------------------------
    async def aio_now(self) -> datetime:
        """The time of the first call, the same on every replay."""
        from sfpserver.engine import services

        index = self._next_index()
        if self._inv is None:
            return _now()
        inv = self._inv
        outcome = await aio_db(
            lambda: services.durable_remember(inv.step_id, inv.attempt, index, "now", "now", lambda: _now().isoformat())
        )
        return datetime.fromisoformat(self._answer(index, outcome))

    async def _aio_memo(
        self, fn: Callable[..., Awaitable[Any]], result_validator: type[Any], /, *args: Any, **kwargs: Any
    ) -> Any:
        """fn(*args, **kwargs) once: a replay gets the recorded result (keyed by the arguments)."""
        from sfpserver.engine import services

        adapter: TypeAdapter[Any] = TypeAdapter(result_validator)
        index = self._next_index()
        if self._inv is None:
            return await fn(*args, **kwargs)
        inv = self._inv
        key = "memo:" + hashlib.sha256(json.dumps([args, kwargs], default=str, sort_keys=True).encode()).hexdigest()
        found = await aio_db(lambda: services.durable_lookup(inv.step_id, inv.attempt, index, "memo", key))
        if found.state != "waiting":
            return adapter.validate_python(self._answer(index, found))
        value = adapter.dump_python(await fn(*args, **kwargs), mode="json")
        outcome = await aio_db(
            lambda: services.durable_remember(inv.step_id, inv.attempt, index, "memo", key, lambda: value)
        )
        return adapter.validate_python(self._answer(index, outcome))

    def _spawned(self, key: str, spawn: Callable[[], list[str]]) -> list[str]:
        """Children spawned at the next index: spawned once; a replay gets the same runs back (run_db side)."""
        from sfpserver.engine import services

        index = self._next_index()
        assert self._inv is not None
        inv = self._inv
        occurrence = self._spawn_counts.get(key, 0)
        self._spawn_counts[key] = occurrence + 1
        outcome = services.durable_remember(inv.step_id, inv.attempt, index, "spawn", key, spawn, occurrence=occurrence)
        return list(self._answer(index, outcome))


POLL_SECONDS = 0.25


def _now() -> datetime:
    from django.utils import timezone

    return timezone.now()


async def _mock_wait(conditions: list[Any]) -> dict[str, Any]:
    """A mock run (no worker): sleeps sleep; an event cannot arrive."""
    engine = to_engine(conditions, _now())
    sleeps = [c for c in engine if c["kind"] == "sleep"]
    if not sleeps:
        raise ValueError("a mock run cannot wait for events: run the task on a worker")
    first = min(sleeps, key=lambda c: c["deadline"])
    await asyncio.sleep(max((datetime.fromisoformat(first["deadline"]) - _now()).total_seconds(), 0.0))
    return {"CREATE": {first["key"]: [{"sleep_duration": first["duration"]}]}}
