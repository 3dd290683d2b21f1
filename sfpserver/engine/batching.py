"""Batch tasks: queued steps of one action (and one group key) run together, one call of the function per batch.

A step of a batch task is recorded with the queue `batch:<queue>` and its settings in `args["batch"]`
(`spec()`: max size, flush interval, group key or the error evaluating it, most batches of a key at once). When
its message would be published (dispatch.publish), it joins instead: a `BatchMember` row (`collect`). A group
(action, key) is flushed (`flush`) under an advisory lock on the group when it holds `max_size` members, when
their inputs pass MAX_BATCH_BYTES, or when its oldest member has waited `interval` seconds: a `StepBatch` row
takes its members (FOR UPDATE SKIP LOCKED), and one message `engine.run_batch(<batch id>)` goes to `<queue>`.
The interval is kept by a timer in the process that collected the members, and by the scheduler's tick
(`flush_due`) whatever happens to that process.

A member published again with the same attempt (the sweeper, after ENGINE_REDISPATCH_AFTER) keeps its place
and its batch, whose message is published again (a duplicate is harmless: the claims are fenced).

The worker claims each member as any step (lifecycle.claim, fenced on its attempt) and runs the function once
(engine/batch_runtime.py); each member's outcome is recorded on its own step. A member whose worker dies is
re-queued by the reaper like any step, joins again, and goes into a later batch: nothing is lost.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any
from uuid import UUID

from django.db import DatabaseError, connection, transaction
from django.utils import timezone

from sfpserver.engine import sql, statements
from sfpserver.engine.exceptions import InvalidWorkflowError
from sfpserver.engine.expressions import evaluate
from sfpserver.engine.models import BatchMember, StepBatch, StepStatus

if TYPE_CHECKING:
    from sfpserver.engine.messages import Dispatch

logger = logging.getLogger(__name__)

BATCH_PREFIX = "batch:"
RUN_BATCH_TASK = "engine.run_batch"
MAX_BATCH_BYTES = 4 * 1024 * 1024  # a batch is flushed once its members' inputs reach this (as Hatchet's 4 MB)
KEY_ERROR = "failed to parse batch group key expression"
GROUPS_PER_TICK = 200


def batch_queue(queue: str) -> str:
    return BATCH_PREFIX + queue


def base(queue: str) -> str:
    """The queue a batch's message goes to: the members' queue without the prefix."""
    return queue.removeprefix(BATCH_PREFIX)


def is_batched(queue: str) -> bool:
    return queue.startswith(BATCH_PREFIX)


# --- at trigger ----------------------------------------------------------------------------------------------


def spec(settings: Mapping[str, Any], variables: Mapping[str, Any]) -> dict[str, Any]:
    """A member step's `args["batch"]`: the batch settings and its group key (or why it has none)."""
    max_size, interval = settings.get("max_size"), settings.get("interval")
    if isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1:
        raise InvalidWorkflowError("batch.max_size", f"must be a whole number >= 1, got {max_size!r}")
    if interval is not None and (isinstance(interval, bool) or not isinstance(interval, (int, float)) or interval < 0):
        raise InvalidWorkflowError("batch.interval", f"must be a number of seconds >= 0, got {interval!r}")
    found: dict[str, Any] = {"max_size": max_size, "interval": interval, "max_runs": settings.get("max_runs")}
    expression = settings.get("group_key")
    if expression:
        try:
            key = evaluate(expression, variables, field="batch.group_key")
        except InvalidWorkflowError as exc:
            found["key_error"] = f"{KEY_ERROR} {expression!r}: {exc.problem}"
        else:
            if isinstance(key, str):
                found["key"] = key
            else:
                found["key_error"] = f"{KEY_ERROR} {expression!r}: it gave {type(key).__name__}, not a string"
    return found


# --- joining and flushing ------------------------------------------------------------------------------------


def collect(batch: list[Dispatch]) -> tuple[list[Dispatch], list[UUID]]:
    """Members of batch tasks join their groups instead of being published. Returns the items to publish and the
    members that could not join (the database failed: the sweeper publishes them again)."""
    members = [item for item in batch if is_batched(item.queue)]
    if not members:
        return batch, []
    rest = [item for item in batch if not is_batched(item.queue)]
    try:
        rows = sql.rows(statements.JOIN_BATCH, _ids(members))
        # A member already in a batch was published again (its batch's message may be lost): so is its batch.
        _publish(sorted({(row["batch_id"], base(row["queue"])) for row in rows if row["batch_id"] is not None}))
        for action, key in {(row["action"], row["key"]) for row in rows if row["batch_id"] is None}:
            _flush_and_publish(action, key)
    except DatabaseError:
        logger.warning("could not collect %d batch member(s): left for the sweeper", len(members))
        return rest, [item.step_id for item in members]
    return rest, []


def _ids(items: Iterable[Dispatch]) -> dict[str, Any]:
    return {"steps": [item.step_id for item in items]}


_timers: set[tuple[str, str]] = set()  # groups with a flush timer pending in this process
_timers_lock = threading.Lock()


def _flush_and_publish(action: str, key: str) -> None:
    flushed, wait = flush(action, key)
    _publish(flushed)
    if wait is not None:
        _flush_in(wait, action, key)


def _flush_in(wait: float, action: str, key: str) -> None:
    """One pending timer per group and process: it flushes the group when its oldest member is due."""
    with _timers_lock:
        if (action, key) in _timers:
            return
        _timers.add((action, key))
    timer = threading.Timer(wait, _flush_later, (action, key))
    timer.daemon = True
    timer.start()


def _flush_later(action: str, key: str) -> None:
    with _timers_lock:
        _timers.discard((action, key))
    try:
        flushed, wait = flush(action, key)
        _publish(flushed)
        if wait is not None:
            _flush_in(wait, action, key)
    except DatabaseError:
        logger.warning("could not flush a batch of %s: left for the scheduler", action)
    finally:
        connection.close()  # this timer's thread ends here: its connection with it


def flush(action: str, key: str) -> tuple[list[tuple[UUID, str]], float | None]:
    """Form the batches of group (action, key) that are due. Returns (batch id, queue) of each, and the seconds
    until its oldest open member is due (None when the group has no open member left)."""
    made: list[tuple[UUID, str]] = []
    with transaction.atomic():
        sql.rows(statements.KEY_LOCK, {"key": f"batch:{action}:{key}"})
        open_members = list(
            BatchMember.objects.select_for_update(skip_locked=True)
            .filter(action=action, key=key, batch__isnull=True)
            .order_by("joined_at", "step_id")[:1000]
        )
        running = _batches_under_way(action, key)
        now = timezone.now()
        while open_members and _due(open_members, now) and _may_start(open_members[0], running):
            taken = _take(open_members)
            made.append(_form(action, key, taken))
            open_members = open_members[len(taken) :]
            running += 1
    wait = None
    if open_members and open_members[0].interval is not None:
        flush_at = open_members[0].joined_at + timedelta(seconds=open_members[0].interval)
        wait = max(0.0, (flush_at - timezone.now()).total_seconds()) + 0.01
    return made, wait


def _may_start(member: BatchMember, running: int) -> bool:
    return not member.max_runs or running < member.max_runs


def _due(members: list[BatchMember], now: Any) -> bool:
    first = members[0]
    return (
        len(members) >= first.max_size
        or sum(m.size for m in members) >= MAX_BATCH_BYTES
        or (first.interval is not None and first.joined_at + timedelta(seconds=first.interval) <= now)
    )


def _take(members: list[BatchMember]) -> list[BatchMember]:
    """The oldest members, up to max_size and (at least one) while their inputs stay under MAX_BATCH_BYTES."""
    taken: list[BatchMember] = []
    size = 0
    for member in members[: members[0].max_size]:
        if taken and size + member.size > MAX_BATCH_BYTES:
            break
        taken.append(member)
        size += member.size
    return taken


def _form(action: str, key: str, members: list[BatchMember]) -> tuple[UUID, str]:
    batch = StepBatch.objects.create(action=action, key=key)
    BatchMember.objects.filter(step_id__in=[m.step_id for m in members]).update(batch=batch)
    return batch.id, base(members[0].queue)


def _batches_under_way(action: str, key: str) -> int:
    """Batches of the group formed and not yet over (a member still queued or running in them)."""
    under_way = BatchMember.objects.filter(
        action=action, key=key, batch__isnull=False, step__status__in=[StepStatus.QUEUED, StepStatus.RUNNING]
    )
    return under_way.values("batch_id").distinct().count()


def _publish(batches: list[tuple[UUID, str]]) -> None:
    if not batches:
        return
    from config.celery import app

    for batch_id, queue in batches:
        try:
            app.send_task(RUN_BATCH_TASK, args=[str(batch_id)], queue=queue)
        except Exception:  # noqa: BLE001 - the members stay queued: the sweeper publishes them again
            logger.warning("broker unavailable: batch %s left for the sweeper", batch_id)


def flush_due() -> int:
    """For the scheduler's tick: flush every group whose batches are due (interval, or a group whose limit of
    batches at once held it back)."""
    groups = list(
        BatchMember.objects.filter(batch__isnull=True).values_list("action", "key").distinct()[:GROUPS_PER_TICK]
    )
    made = 0
    for action, key in groups:
        batches, _ = flush(action, key)
        _publish(batches)
        made += len(batches)
    return made


def members_of(batch_id: UUID) -> list[tuple[UUID, int]]:
    return list(BatchMember.objects.filter(batch_id=batch_id).values_list("step_id", "attempt"))


def leave(batch_id: UUID, step_ids: list[UUID]) -> None:
    """The members' attempts are over: they leave the batch (a member re-queued since has joined afresh)."""
    BatchMember.objects.filter(batch_id=batch_id, step_id__in=step_ids).delete()
