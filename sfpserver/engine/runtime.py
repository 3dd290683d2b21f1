"""Running one step attempt inside a worker process: claim, call the step's code, record the outcome.

A heartbeat thread (sfpserver/engine/worker.py) watches every attempt running here; when the engine says
an attempt must stop (cancelled, timed out, reassigned), `interrupt()` sets its cancel flag, runs its stop
callbacks (which kill CLI process groups or cancel asyncio tasks) and, after a grace period, raises
StepInterrupted inside the thread that runs it.

Redaction hook: whatever an attempt reports (log lines, stream chunks, progress messages, its error text and
traceback, its output) passes through `Invocation.redactors` before it is stored. The engine knows nothing of
what they mask; the vault installs one per attempt that leased secrets, and `on_finish` callbacks (run after
the outcome is recorded, however the attempt ended) let it drop them.
"""

from __future__ import annotations

import ctypes
import json
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import close_old_connections, connection

from sfpserver.engine import drain, events, groupcommit, lifecycle, registry, step_thread
from sfpserver.engine.dbretry import wait_for_database as wait_for_database  # re-exported: hatchet/worker.py
from sfpserver.engine.dbretry import with_db_retry
from sfpserver.engine.exceptions import DurableEvicted, NonRetryableError, StepInterrupted
from sfpserver.engine.lifecycle import Claimant, Claimed, ErrorInfo
from sfpserver.engine.models import EventKind

logger = logging.getLogger(__name__)


@dataclass
class Invocation:
    """What a step's code sees of its attempt. The SDK's Context wraps it."""

    claimed: Claimed
    worker_id: UUID | None
    worker_name: str
    cancelled: threading.Event = field(default_factory=threading.Event)
    thread_id: int = field(default_factory=threading.get_ident)
    stop_reason: str = ""
    redactors: list[Callable[[str], str]] = field(default_factory=list)
    _stop_callbacks: list[Callable[[], None]] = field(default_factory=list)
    _finish_callbacks: list[Callable[[], None]] = field(default_factory=list)
    _finished: threading.Event = field(default_factory=threading.Event)
    # The step's code has returned (or raised): only recording its outcome remains, which the fence decides.
    # Nothing interrupts the thread from here on, not even when the step's row already shows the outcome
    # while the thread still publishes the released children (a broker outage makes that slow).
    recording: threading.Event = field(default_factory=threading.Event)
    # The worker is shutting down: a durable task waiting in its slot is evicted at once (engine/durable.py).
    evict_requested: threading.Event = field(default_factory=threading.Event)
    _raising: threading.Lock = field(default_factory=threading.Lock)

    # Identity -------------------------------------------------------------------------------------------
    @property
    def step_id(self) -> UUID:
        return self.claimed.step_id

    @property
    def run_id(self) -> UUID:
        return self.claimed.run_id

    @property
    def attempt(self) -> int:
        return self.claimed.attempt

    @property
    def retry_count(self) -> int:
        """Re-runs of the step's code that were retries (an eviction of a durable task is not one)."""
        return self.claimed.attempt - self.claimed.evictions

    @property
    def input(self) -> Any:
        return self.claimed.input

    @property
    def lease_secret(self) -> str:
        """The secret that proves this process claimed the attempt (the vault's lease asks for it)."""
        return self.claimed.lease_secret

    @property
    def parent_outputs(self) -> dict[str, Any]:
        return self.claimed.parent_outputs

    def log_context(self) -> dict[str, Any]:
        """The `extra` of this attempt's log records (the JSON log lines carry them as fields)."""
        return {
            "run_id": str(self.run_id),
            "workflow": self.claimed.workflow_name,
            "step": self.claimed.name,
            "step_id": str(self.step_id),
            "attempt": self.attempt,
        }

    # Reporting (a database outage pauses the step's code here instead of failing the step) -------------------
    def log(self, message: str) -> None:
        self._record(EventKind.LOG, message)

    def put_stream(self, data: str) -> None:
        self._record(EventKind.STREAM, data)

    def progress(self, percent: float, message: str = "") -> None:
        self._record(EventKind.PROGRESS, message, {"percent": percent})

    def _record(self, kind: str, message: str, data: Any = None) -> None:
        text = self.redact(message)
        with_db_retry(
            lambda: events.record(self.run_id, self.step_id, self.attempt, kind, text, data), "record an event"
        )

    # Redaction ------------------------------------------------------------------------------------------
    def redact(self, text: str) -> str:
        """`text` with every redactor applied; if one fails, nothing of the text is kept (fail closed)."""
        for redactor in list(self.redactors):
            try:
                text = redactor(text)
            except Exception:  # a broken redactor must not let the text through
                logger.exception("redactor failed", extra=self.log_context())
                return "[redaction failed]"
        return text

    def redact_value(self, value: Any) -> Any:
        """A JSON-like value with every string in it (keys too) redacted."""
        if not self.redactors:
            return value
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, dict):
            return {self.redact(str(key)): self.redact_value(item) for key, item in value.items()}
        if isinstance(value, list):
            return [self.redact_value(item) for item in value]
        return value

    def redact_error(self, error: ErrorInfo) -> ErrorInfo:
        return ErrorInfo(self.redact(error.type), self.redact(error.message), self.redact(error.traceback))

    def refresh_timeout(self, seconds: float) -> datetime | None:
        deadline: datetime | None = lifecycle.refresh_timeout(self.step_id, self.attempt, seconds)
        return deadline

    # Stopping -------------------------------------------------------------------------------------------
    def on_stop(self, callback: Callable[[], None]) -> None:
        self._stop_callbacks.append(callback)

    def on_finish(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the attempt's outcome is recorded, however it ended."""
        self._finish_callbacks.append(callback)

    def _run_finish_callbacks(self) -> None:
        for callback in list(self._finish_callbacks):
            try:
                callback()
            except Exception:  # a failing finish callback must not stop the others
                logger.exception("finish callback failed", extra=self.log_context())

    def interrupt(self, reason: str) -> None:
        if self.cancelled.is_set() or self.recording.is_set():
            return
        self.stop_reason = reason
        self.cancelled.set()
        for callback in list(self._stop_callbacks):
            try:
                callback()
            except Exception:
                logger.exception("stop callback failed", extra=self.log_context())
        timer = threading.Timer(settings.ENGINE_CANCEL_GRACE, self._raise_in_thread)
        timer.daemon = True
        timer.start()

    def _raise_in_thread(self) -> None:
        with self._raising:
            if not self._finished.is_set() and not self.recording.is_set():
                ctypes.pythonapi.PyThreadState_SetAsyncExc(
                    ctypes.c_ulong(self.thread_id), ctypes.py_object(StepInterrupted)
                )

    def code_returned(self) -> None:
        """The step's code is done; from now on nothing raises inside this thread."""
        with self._raising:
            self.recording.set()


class _Running:
    """The attempts running in this process, for the heartbeat thread to watch; and the children handed to a
    thread by a completion that is still publishing their siblings (reserved: they are about to run here, so
    the orphan watch leaves them alone)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._items: dict[UUID, Invocation] = {}
        self._reserved: dict[UUID, int] = {}  # step id -> the thread that will run it

    def add(self, inv: Invocation) -> None:
        with self._lock:
            self._items[inv.step_id] = inv
            self._reserved.pop(inv.step_id, None)

    def reserve(self, step_id: UUID) -> None:
        with self._lock:
            self._reserved[step_id] = threading.get_ident()

    def drop_reservations(self) -> None:
        """The calling thread runs nothing it reserved (it ended with an error before it could)."""
        me = threading.get_ident()
        with self._lock:
            for step_id in [step for step, thread in self._reserved.items() if thread == me]:
                del self._reserved[step_id]

    def owned_ids(self) -> list[UUID]:
        with self._lock:
            return [*self._items, *self._reserved]

    def remove(self, inv: Invocation) -> None:
        with self._lock:
            if self._items.get(inv.step_id) is inv:
                del self._items[inv.step_id]

    def snapshot(self) -> list[Invocation]:
        with self._lock:
            return list(self._items.values())


running = _Running()
_failures = threading.local()  # the step attempts this thread saw fail, for the Celery task to report


def failure_of(step_id: str, attempt: int) -> ErrorInfo | None:
    """The error of attempt `attempt` of `step_id` if this thread ran it and it failed (and forget it)."""
    seen: dict[tuple[str, int], ErrorInfo] = getattr(_failures, "seen", {})
    _failures.seen = {}
    return seen.get((str(step_id), attempt))


def _failed(inv: Invocation, error: ErrorInfo) -> None:
    seen = getattr(_failures, "seen", None)
    if seen is None:
        seen = _failures.seen = {}
    seen[(str(inv.step_id), inv.attempt)] = error


def execute(step_id: str, attempt: int, worker: Claimant, may_hand_off: Callable[[], bool] = bool) -> None:
    """Run attempt `attempt` of step `step_id` if it is still due; a stale message does nothing.

    A completed step may hand this thread the child it released (lifecycle.complete's claimant), which then
    runs here at once, without a broker message, and so on down a chain, while `may_hand_off()` is true.
    """
    with groupcommit.busy():  # this thread may send the process's committer a claim or a completion
        _execute(step_id, attempt, worker, may_hand_off)


def _execute(step_id: str, attempt: int, worker: Claimant, may_hand_off: Callable[[], bool]) -> None:
    _recycle_connection()
    claimed = with_db_retry(lambda: lifecycle.claim(step_id, attempt, worker.id, worker.name), "claim a step")
    if claimed is None:
        context = {"step_id": str(step_id), "attempt": attempt}
        if with_db_retry(lambda: drain.push_back(step_id, attempt), "leave a step for after the drain"):
            logger.info("draining: step left queued until resume", extra=context)
        else:
            logger.debug("discarding stale message for step %s attempt %s", step_id, attempt, extra=context)
        return
    try:
        while claimed is not None:
            inv = Invocation(claimed, worker.id, worker.name)
            running.add(inv)
            try:
                claimed = _run(inv, worker if may_hand_off() else Claimant(worker.id, worker.name))
            finally:
                inv._finished.set()
                running.remove(inv)
                inv._run_finish_callbacks()
    finally:
        running.drop_reservations()


def _recycle_connection() -> None:
    """Django's hygiene between units of work (close a connection past DB_CONN_MAX_AGE or left broken by an
    error), without the `SELECT 1` health check Django would then run before the next query: a connection that
    died meanwhile fails the claim with an OperationalError, which with_db_retry answers by reconnecting. One
    round trip and one transaction less per step (see bench/)."""
    close_old_connections()
    connection.health_check_done = True  # type: ignore[attr-defined]  # a BaseDatabaseWrapper attribute the stubs omit


def _run(inv: Invocation, worker: Claimant) -> Claimed | None:
    """Call the step's code and record its outcome; the child handed to this worker, if one was."""
    handler = registry.resolve_action(inv.claimed.action)
    extra = inv.log_context()
    logger.info("step started", extra=extra)
    if handler is None:
        logger.error("step failed: no code for action %s", inv.claimed.action, extra=extra)
        error = ErrorInfo("UnknownAction", f"no code for action {inv.claimed.action!r} on worker {inv.worker_name}")
        with_db_retry(lambda: lifecycle.fail(inv.step_id, inv.attempt, error, retryable=False), "record a failure")
        _failed(inv, error)
        return None
    try:
        try:
            output = step_thread.call(handler, inv)  # in the slot's companion: a stop frees the slot
        finally:
            inv.code_returned()
        payload = inv.redact_value(to_json(output))
    except StepInterrupted:
        logger.info("step stopped: %s", inv.stop_reason or "interrupted", extra=extra)
        return None
    except DurableEvicted:  # the attempt ended at a wait (engine/durable.py): its outcome is recorded
        logger.info("durable step left its slot at a wait", extra=extra)
        return None
    except Exception as exc:  # noqa: BLE001 - every error of step code is the step's outcome
        if inv.cancelled.is_set():  # the error is how the code reacted to being stopped
            logger.info("step stopped: %s", inv.stop_reason, extra=extra)
            return None
        error = inv.redact_error(error_info(exc))
        retryable = not is_non_retryable(exc)
        logger.info("step attempt failed: %s: %s", error.type, error.message, extra=extra)
        with_db_retry(lambda: lifecycle.fail(inv.step_id, inv.attempt, error, retryable=retryable), "record a failure")
        _failed(inv, error)
        return None
    claimant = worker if _may_release(inv.claimed) else Claimant(worker.id, worker.name)
    completion = with_db_retry(
        lambda: lifecycle.complete(inv.claimed, payload, claimant=claimant, on_hand_off=running.reserve),
        "record an output",
    )
    if completion is None:
        logger.info("step output discarded: the attempt is no longer current", extra=extra)
        return None
    logger.info("step completed", extra=extra)
    return completion.next


def _may_release(claimed: Claimed) -> bool:
    """False when the workflow as this process defines it has no step waiting on this one: the completion then
    skips looking for a child to hand off. A hint only: a child it misses goes through the broker as usual."""
    definition = registry.local_workflow(claimed.workflow_name)
    return definition is None or any(claimed.name in step.parents for step in definition.steps)


def to_json(value: Any) -> Any:
    try:
        return json.loads(json.dumps(value, cls=DjangoJSONEncoder))
    except (TypeError, ValueError) as exc:
        raise IllegalOutputError(f"the step's output is not JSON-serialisable: {exc}") from None


class IllegalOutputError(Exception):
    """A step returned something that cannot be stored."""


def is_non_retryable(exc: BaseException) -> bool:
    return isinstance(exc, NonRetryableError) or bool(getattr(exc, "non_retryable", False))


def error_info(exc: BaseException) -> ErrorInfo:
    return ErrorInfo(
        type=type(exc).__name__,
        message=str(exc),
        traceback="".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
    )
