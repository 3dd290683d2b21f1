"""Where a step's code runs: in a companion thread of the worker slot, never in the slot's own thread, so that a
stop (cancel, execution timeout) always gives the slot back.

An attempt told to stop gets its cancel flag, its stop callbacks and, after ENGINE_CANCEL_GRACE, StepInterrupted
raised in the thread that runs its code (runtime.Invocation.interrupt). Code blocked in a call that does not see
that exception (`time.sleep(3600)`, a blocking socket read) would hold the slot until the call returns. Here the
slot's thread waits for its companion; once the attempt has been told to stop and its code has not returned
within ENGINE_ABANDON_AFTER more seconds, the slot abandons the companion (logged as an error with the attempt's
ids; it ends when its call returns, and its result is dropped), takes a new companion, and serves the next step.
The attempt's outcome (timed out, cancelled) is recorded by whoever stopped it, before the stop.

One companion per slot thread, reused from step to step (it keeps its database connection, as the slot did).
"""

from __future__ import annotations

import contextvars
import logging
import queue
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection

from sfpserver.engine.exceptions import StepInterrupted

logger = logging.getLogger(__name__)

POLL_SECONDS = 0.1

_slot = threading.local()


class _Companion:
    def __init__(self, slot_name: str) -> None:
        self.jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self.thread = threading.Thread(target=self._serve, name=f"{slot_name}-step", daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        try:
            while True:
                try:
                    job = self.jobs.get()
                    if job is None:
                        return
                    job()
                except StepInterrupted:
                    continue  # a stop that arrived just after its step's code returned
        finally:
            connection.close()


class _Outcome:
    def __init__(self) -> None:
        self.done = threading.Event()
        self.value: Any = None
        self.error: BaseException | None = None


def call(handler: Callable[[Any], Any], inv: Any) -> Any:
    """handler(inv) in this slot's companion thread; its value or its exception, or StepInterrupted once the
    attempt was stopped and its code did not return in time (the companion is then abandoned)."""
    companion = _companion()
    outcome = _Outcome()
    companion.jobs.put(_job(handler, inv, outcome, contextvars.copy_context()))
    _wait(outcome, inv, companion)
    if outcome.error is not None:
        raise outcome.error
    return outcome.value


def _companion() -> _Companion:
    found: _Companion | None = getattr(_slot, "companion", None)
    if found is None or not found.thread.is_alive():
        found = _slot.companion = _Companion(threading.current_thread().name)
    return found


def _job(
    handler: Callable[[Any], Any], inv: Any, outcome: _Outcome, context: contextvars.Context
) -> Callable[[], None]:
    def run() -> None:
        inv.thread_id = threading.get_ident()  # where StepInterrupted is raised
        close_old_connections()
        try:
            try:
                outcome.value = context.run(handler, inv)
            finally:
                inv.code_returned()  # nothing is raised in this thread any more
        except BaseException as exc:  # noqa: BLE001 - handed to the slot's thread as the step's own outcome
            outcome.error = exc
        finally:
            outcome.done.set()

    return run


def _wait(outcome: _Outcome, inv: Any, companion: _Companion) -> None:
    told_at: float | None = None
    limit = settings.ENGINE_CANCEL_GRACE + settings.ENGINE_ABANDON_AFTER
    while not outcome.done.wait(POLL_SECONDS):
        if told_at is None and inv.cancelled.is_set():
            told_at = time.monotonic()
        if told_at is not None and time.monotonic() - told_at > limit:
            _abandon(inv, companion)
            raise StepInterrupted()


def _abandon(inv: Any, companion: _Companion) -> None:
    _slot.companion = None
    companion.jobs.put(None)  # it ends once the call it is blocked in returns
    logger.error(
        "step code ignored the stop (%s) for %.0f s; its thread %s is abandoned and the slot serves the next step",
        inv.stop_reason or "stopped",
        settings.ENGINE_CANCEL_GRACE + settings.ENGINE_ABANDON_AFTER,
        companion.thread.name,
        extra=inv.log_context(),
    )
