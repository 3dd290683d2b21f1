"""Putting step messages on the broker, always after the transaction that queued the step commits.

A message says only "run attempt N of step S". When publishing fails (broker down), the step's
wait becomes `broker` (engine/waits.py) and the scheduler publishes it again as soon as the broker answers.

The sweeper (`release_due_steps`, a job of the scheduler's tick) publishes the steps that wait for the broker:
retries past their backoff, steps whose publish failed, and steps whose message went out long ago but never
started. A broker that restarts may come back without the messages it held. `broker_restarted()` notices (the Redis
server's run id differs from the one it recorded in Redis, or the record is gone with the data), and the
scheduler then publishes every queued step again at once; a duplicate of a message that survived is discarded
by the claim's fence. The sweeper (steps published long ago that never started) stays as the backstop.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import os
import threading
import time
from collections.abc import Iterable
from typing import Any
from uuid import UUID

import redis
from django.conf import settings
from django.db import DatabaseError, close_old_connections, transaction

from sfpserver.engine import affinity, batching, broker, sql, statements
from sfpserver.engine.broker import RUN_STEP_TASK as RUN_STEP_TASK  # re-exported: celery_tasks.py
from sfpserver.engine.broker import broker_priority
from sfpserver.engine.messages import Dispatch as Dispatch  # re-exported: the callers' name for a message

logger = logging.getLogger(__name__)

BATCH = 500
CONFIRM_AFTER = 0.1  # seconds after a publish its answers are read, if no later publish of its thread read them


def dispatch_after_commit(items: Iterable[Dispatch]) -> None:
    batch = list(items)
    if batch:
        transaction.on_commit(lambda: publish(batch))


def publish(batch: list[Dispatch]) -> None:
    """Publish the batch in one round trip (engine/broker.py). If the broker does not take it, every step of it is
    marked undispatched, so the scheduler publishes it again as soon as the broker answers (and at the latest after
    the sweeper's delay); a message that did get through is then a duplicate, which the claim's fence discards."""
    batch, failed = batching.collect(batch)  # members of batch tasks join their batches (engine/batching.py)
    routing = affinity.route(batch)  # steps with affinity go to their chosen worker's queue (engine/affinity.py)
    if failed or routing.unplaced:
        _mark_undispatched(failed + routing.unplaced)  # the sweeper tries again
    batch = routing.ready
    names = shown_names(batch)
    try:
        if broker.is_redis():
            _left_to_the_scheduler(broker.send(batch, names))  # written in one go; earlier answers read meanwhile
            _confirm_soon()
        else:
            _send_through_celery(batch, names)
    except Exception as exc:  # noqa: BLE001 - any broker failure leaves the steps to the scheduler
        logger.warning(
            "broker unavailable (%s): %d step message(s) left for the scheduler to publish",
            type(exc).__name__,
            len(batch),
        )
        _mark_undispatched([item.step_id for item in batch])


def confirm_published() -> int:
    """Read the broker's answers to this process's pipelined publishes (engine/broker.py); the steps it refused
    are marked undispatched, for the scheduler to publish again. How many were."""
    refused = broker.confirm_all()
    _left_to_the_scheduler(refused)
    return len(refused)


def _left_to_the_scheduler(refused: list[UUID]) -> None:
    if refused:
        logger.warning("the broker refused %d step message(s): left for the scheduler", len(refused))
        _mark_undispatched(refused)


class _Confirmer:
    """Reads the answers of this process's publishes CONFIRM_AFTER after they were sent, when no later publish of
    the same thread has read them: a refusal (or a broker gone under a connection that was idle) is known within
    a fraction of a second, not a sweeper's delay later, whether or not the process publishes again."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self.due = threading.Event()
        threading.Thread(target=self._run, name="engine-confirm", daemon=True).start()

    def _run(self) -> None:
        while True:
            self.due.wait()
            time.sleep(CONFIRM_AFTER)  # the answers of a burst together (most are read by their senders first)
            self.due.clear()
            try:
                close_old_connections()
                confirm_published()
            except Exception:  # noqa: BLE001 - the sweeper is the backstop; this thread must go on
                logger.warning("could not read the broker's answers; the sweeper will publish what is missing")


_confirmer_now: _Confirmer | None = None
_confirmer_lock = threading.Lock()


def _confirm_soon() -> None:
    global _confirmer_now
    found = _confirmer_now
    if found is None or found.pid != os.getpid():
        with _confirmer_lock:
            if _confirmer_now is None or _confirmer_now.pid != os.getpid():  # first use, or a forked child
                _confirmer_now = _Confirmer()
            found = _confirmer_now
    found.due.set()


@atexit.register
def _confirm_at_exit() -> None:
    """A process that exits reads its last answers first (quietly: logging may be gone by now)."""
    with contextlib.suppress(Exception):
        refused = broker.confirm_all()
        if refused:
            _mark_undispatched(refused)


def _send_through_celery(batch: list[Dispatch], names: dict[UUID, str]) -> None:
    """A broker other than Redis: Celery's own publishing, one message after the other."""
    from config.celery import app

    with app.producer_or_acquire() as producer:  # type: ignore[attr-defined]  # celery-types lacks it
        for item in batch:
            app.send_task(
                RUN_STEP_TASK,
                args=[str(item.step_id), item.attempt],
                queue=item.queue,
                producer=producer,
                priority=broker_priority(item.priority),
                shadow=names.get(item.step_id),
            )


def shown_names(batch: list[Dispatch]) -> dict[UUID, str]:
    """`<workflow>:<step>` per step, the name monitoring (Flower, worker logs) shows for its message instead of
    engine.run_step; the message itself still carries ids only. Without the database, the plain task name."""
    from sfpserver.engine.models import StepRun

    known = {item.step_id: item.shown_as for item in batch if item.shown_as}
    unknown = [item.step_id for item in batch if not item.shown_as]
    if not unknown:
        return known  # a trigger knows its steps' names: no query on that path
    try:
        rows = StepRun.objects.filter(id__in=unknown)
        return known | {
            step_id: f"{workflow}:{name}"
            for step_id, workflow, name in rows.values_list("id", "run__workflow_name", "name")
        }
    except DatabaseError:
        return known


def _mark_undispatched(step_ids: list[UUID]) -> None:
    from django.utils import timezone

    from sfpserver.engine import waits
    from sfpserver.engine.models import StepRun

    undelivered = waits.enter(waits.Event.UNDELIVERED, gated=False, now=timezone.now())
    try:
        StepRun.objects.filter(waits.DELIVERED.q(), id__in=step_ids).update(**undelivered.fields())
    except DatabaseError:
        # The sweeper still re-publishes them once ENGINE_REDISPATCH_AFTER has passed.
        logger.warning("could not mark %d step(s) undispatched", len(step_ids))


BROKER_EPOCH_KEY = "sfp:engine:broker-epoch"  # the run id of the Redis server that holds our messages
_watch: redis.Redis | None = None


def broker_restarted() -> bool | None:
    """Whether the broker is a new server, or one that lost its data, since the last look (the first look ever
    counts as a restart). None when the broker does not answer. Two round trips; for the leader's tick."""
    if not broker.is_redis():
        return False  # another broker: nothing to watch here
    client = _watch_client()
    try:
        run_id = str(client.info("server")["run_id"])
        if client.get(BROKER_EPOCH_KEY) == run_id.encode():
            return False
        client.set(BROKER_EPOCH_KEY, run_id)
        return True
    except redis.RedisError:
        return None


def _watch_client() -> redis.Redis:
    global _watch
    if _watch is None:
        url = settings.CELERY_BROKER_URL
        _watch = redis.Redis.from_url(url, socket_timeout=1.0, socket_connect_timeout=1.0)
    return _watch


# --- the sweeper -------------------------------------------------------------------------------------------

_broker_answers = True  # at the last look (recover_lost_messages): publishing is pointless while it does not


def release_due_steps(before: Any = None) -> int:
    """Publish due steps that have no message: retries after their backoff, steps whose publish failed, and
    (the sweeper) steps published before `before` that never started."""
    if not _broker_answers:
        return 0
    with transaction.atomic():
        params = {"after": settings.ENGINE_REDISPATCH_AFTER, "before": before, "batch": BATCH}
        rows = sql.rows(statements.RELEASE_DUE, params)
        dispatch_after_commit(Dispatch(row["id"], row["attempt"], row["queue"], row["priority"]) for row in rows)
    return len(rows)


def recover_lost_messages() -> int:
    """When the broker restarted or lost its data, publish every queued step again now, not a sweeper's delay
    later (a message that survived is a duplicate, which the claim's fence discards)."""
    global _broker_answers
    restarted = broker_restarted()
    _broker_answers = restarted is not None
    if not restarted:
        return 0
    since = sql.rows(statements.NOW)[0]["now"]
    released = 0
    while (batch := release_due_steps(before=since)) > 0:
        released += batch
    logger.warning("the broker restarted or lost its data: %d queued step(s) published again", released)
    return released
