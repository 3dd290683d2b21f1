"""Running one batch inside a worker process: claim its members, call the batch task's function once, record
each member's outcome on its own step (engine/batching.py forms the batches).

A batch handler (what the registry resolves the action to) is marked `batch = True` and takes the list of the
members' invocations; it returns, per member step id, the member's output or the exception it failed with. A
member whose group key could not be evaluated is failed without calling the function. Each member is claimed
and completed with the same fences as any step, so a late or duplicated batch message changes nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from sfpserver.engine import batching, drain, lifecycle, registry, runtime
from sfpserver.engine.dbretry import with_db_retry
from sfpserver.engine.exceptions import StepInterrupted
from sfpserver.engine.lifecycle import Claimant, Claimed, ErrorInfo

logger = logging.getLogger(__name__)

BatchHandler = Callable[[list[runtime.Invocation]], Mapping[UUID, Any]]


def execute(batch: str, worker: Claimant) -> None:
    batch_id = UUID(batch)
    members = with_db_retry(lambda: batching.members_of(batch_id), "read a batch")
    claimed = [c for step_id, attempt in members if (c := _claim(step_id, attempt, worker)) is not None]
    if not claimed:
        return
    invocations = [runtime.Invocation(c, worker.id, worker.name) for c in claimed]
    for inv in invocations:
        runtime.running.add(inv)
    try:
        _run(invocations, Claimant(worker.id, worker.name))
    finally:
        for inv in invocations:
            inv._finished.set()
            runtime.running.remove(inv)
            inv._run_finish_callbacks()
        with_db_retry(lambda: batching.leave(batch_id, [c.step_id for c in claimed]), "leave a batch")


def _claim(step_id: UUID, attempt: int, worker: Claimant) -> Claimed | None:
    claimed = with_db_retry(lambda: lifecycle.claim(step_id, attempt, worker.id, worker.name), "claim a member")
    if claimed is None:
        with_db_retry(lambda: drain.push_back(step_id, attempt), "leave a member for after the drain")
    return claimed


def _run(invocations: list[runtime.Invocation], worker: Claimant) -> None:
    runnable = []
    for inv in invocations:
        key_error = (inv.claimed.args.get("batch") or {}).get("key_error")
        if key_error:
            _fail(inv, ErrorInfo("ValueError", key_error, ""), retryable=False)
        else:
            runnable.append(inv)
    if not runnable:
        return
    handler = registry.resolve_action(runnable[0].claimed.action)
    if handler is None or not getattr(handler, "batch", False):
        error = ErrorInfo("UnknownAction", f"no batch code for action {runnable[0].claimed.action!r}", "")
        for inv in runnable:
            _fail(inv, error, retryable=False)
        return
    try:
        try:
            outputs = handler(runnable)
        finally:
            for inv in runnable:
                inv.code_returned()
    except StepInterrupted:
        logger.info("batch stopped", extra=runnable[0].log_context())
        return
    except Exception as exc:  # noqa: BLE001 - every error of the function is each member's outcome
        for inv in runnable:
            _fail(inv, inv.redact_error(runtime.error_info(exc)), retryable=not runtime.is_non_retryable(exc))
        return
    for inv in runnable:
        _record(inv, outputs, worker)


def _record(inv: runtime.Invocation, outputs: Mapping[UUID, Any], worker: Claimant) -> None:
    if inv.cancelled.is_set():
        return
    output = outputs.get(inv.step_id)
    if isinstance(output, BaseException):
        _fail(inv, inv.redact_error(runtime.error_info(output)), retryable=not runtime.is_non_retryable(output))
        return
    try:
        payload = inv.redact_value(runtime.to_json(output))
    except runtime.IllegalOutputError as exc:
        _fail(inv, runtime.error_info(exc), retryable=False)
        return
    with_db_retry(lambda: lifecycle.complete(inv.claimed, payload, claimant=worker), "record a member's output")


def _fail(inv: runtime.Invocation, error: ErrorInfo, *, retryable: bool) -> None:
    with_db_retry(
        lambda: lifecycle.fail(inv.step_id, inv.attempt, error, retryable=retryable), "record a member's failure"
    )
