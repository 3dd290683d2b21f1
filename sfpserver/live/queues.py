"""Queue depth per pool: steps QUEUED in Postgres (ready, or waiting out a retry backoff or a gate) next to
the messages waiting in each Redis list (LLEN), which is what the broker holds for the workers."""

from __future__ import annotations

import logging
from collections import defaultdict
from functools import cache
from typing import Any

import redis
from django.conf import settings

from sfpserver.engine import services
from sfpserver.engine.services import LONG_RUNNING_QUEUE, STANDARD_QUEUE, WorkerStatus

logger = logging.getLogger(__name__)

DEFAULT_POOLS = {STANDARD_QUEUE: "standard", LONG_RUNNING_QUEUE: "long-running"}
PRIORITY_SEPARATOR = "\x06\x16"  # kombu's Redis transport keeps priority n > 0 in `queue` + sep + n
PRIORITY_STEPS = (0, 3, 6, 9)


def queue_depths() -> list[dict[str, Any]]:
    pools = _pools_by_queue()
    queued = _queued_in_postgres()
    names = sorted(set(pools) | set(queued))
    in_redis = _lengths_in_redis(names)
    return [
        {
            "queue": name,
            "pool": pools.get(name, ""),
            "queued": queued.get(name, {}).get("ready", 0),
            "waiting": queued.get(name, {}).get("waiting", 0),
            "in_broker": in_redis.get(name),
        }
        for name in names
    ]


def _pools_by_queue() -> dict[str, str]:
    pools = dict(DEFAULT_POOLS)
    for worker in services.list_workers(status=WorkerStatus.ACTIVE):
        for queue in worker.queues:
            pools.setdefault(queue, worker.pool)
    return pools


def _queued_in_postgres() -> dict[str, dict[str, int]]:
    found: dict[str, dict[str, int]] = defaultdict(dict)
    for count in services.queued_counts():
        found[count.queue] = {"ready": count.ready, "waiting": count.waiting}
    return found


def _lengths_in_redis(queues: list[str]) -> dict[str, int | None]:
    """LLEN of each queue's lists; None for every queue when Redis does not answer."""
    keys = {queue: [_key(queue, priority) for priority in PRIORITY_STEPS] for queue in queues}
    try:
        pipe = _redis().pipeline(transaction=False)
        for queue in queues:
            for key in keys[queue]:
                pipe.llen(key)
        lengths = iter(pipe.execute())
    except redis.RedisError as exc:
        logger.warning("queue depth: Redis did not answer (%s)", type(exc).__name__)
        return dict.fromkeys(queues)
    return {queue: sum(next(lengths) for _ in keys[queue]) for queue in queues}


def _key(queue: str, priority: int) -> str:
    return queue if priority == 0 else f"{queue}{PRIORITY_SEPARATOR}{priority}"


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL, socket_timeout=1, socket_connect_timeout=1)
