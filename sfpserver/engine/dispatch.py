"""Putting step messages on the broker, always after the transaction that queued the step commits.

A message says only "run attempt N of step S". When publishing fails (broker down), the step's
wait becomes `broker` (engine/waits.py) and the scheduler publishes it again as soon as the broker answers.

A broker that restarts may come back without the messages it held. `broker_restarted()` notices (the Redis
server's run id differs from the one it recorded in Redis, or the record is gone with the data), and the
scheduler then publishes every queued step again at once; a duplicate of a message that survived is discarded
by the claim's fence. The sweeper (steps published long ago that never started) stays as the backstop.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from uuid import UUID

import redis
from django.conf import settings
from django.db import DatabaseError, transaction

logger = logging.getLogger(__name__)

RUN_STEP_TASK = "engine.run_step"


@dataclass(frozen=True)
class Dispatch:
    step_id: UUID
    attempt: int
    queue: str
    priority: int = 1  # 1..3 as in Hatchet; 4 for retries, which go ahead of every user priority


def broker_priority(priority: int) -> int:
    """Redis (kombu) serves lower numbers first, in the steps 0, 3, 6, 9: retries 0, HIGH 3, MEDIUM 6, LOW 9."""
    return {4: 0, 3: 3, 2: 6}.get(priority, 9)


def dispatch_after_commit(items: Iterable[Dispatch]) -> None:
    batch = list(items)
    if batch:
        transaction.on_commit(lambda: publish(batch))


def publish(batch: list[Dispatch]) -> None:
    """Publish the batch; once one message fails (after Celery's publish retries), the rest are not tried: the
    broker is down, and each try would block the caller again. Every step not published is marked undispatched,
    so the scheduler publishes it as soon as the broker answers (and at the latest after the sweeper's delay)."""
    from config.celery import app

    sent = 0
    try:
        with app.producer_or_acquire() as producer:  # type: ignore[attr-defined]  # celery-types lacks it
            for item in batch:
                app.send_task(
                    RUN_STEP_TASK,
                    args=[str(item.step_id), item.attempt],
                    queue=item.queue,
                    producer=producer,
                    priority=broker_priority(item.priority),
                )
                sent += 1
    except Exception:  # noqa: BLE001 - any broker failure leaves the rest to the scheduler
        failed = [item.step_id for item in batch[sent:]]
        logger.warning("broker unavailable: %d step message(s) left for the scheduler to publish", len(failed))
        _mark_undispatched(failed)


def _mark_undispatched(step_ids: list[UUID]) -> None:
    from django.utils import timezone

    from sfpserver.engine import waits
    from sfpserver.engine.models import StepRun, WaitingFor

    undelivered = waits.enter(waits.Event.UNDELIVERED, gated=False, now=timezone.now())
    try:
        StepRun.objects.filter(id__in=step_ids, waiting_for=WaitingFor.DELIVERED).update(**undelivered.fields())
    except DatabaseError:
        # The sweeper still re-publishes them once ENGINE_REDISPATCH_AFTER has passed.
        logger.warning("could not mark %d step(s) undispatched", len(step_ids))


BROKER_EPOCH_KEY = "sfp:engine:broker-epoch"  # the run id of the Redis server that holds our messages
_watch: redis.Redis | None = None


def broker_restarted() -> bool | None:
    """Whether the broker is a new server, or one that lost its data, since the last look (the first look ever
    counts as a restart). None when the broker does not answer. Two round trips; for the leader's tick."""
    if not str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://", "unix://")):
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
