"""Plain Celery for comparison: tasks on the project's own Celery app (same broker, serializer, acks_late,
prefetch), served by `celery -A bench.plain worker` with the durable node's pool and concurrency.

`noop` records itself in Redis in one round trip (the completion count and the first/last times), so the bench
sees when the queue is drained; `hop` records its start and publishes the next task of its chain.
"""

from __future__ import annotations

import time
from functools import cache

import redis
from django.conf import settings

from config.celery import app

QUEUE = "bench-plain"
TASK = "bench.plain.noop"
DONE_KEY = "bench:plain:done"
FIRST_KEY = "bench:plain:first"
LAST_KEY = "bench:plain:last"
HOP_TASK = "bench.plain.hop"
HOPS_KEY = "bench:plain:hops"


@cache
def _redis() -> redis.Redis:
    return redis.Redis.from_url(settings.REDIS_URL)


@app.task(name=TASK, ignore_result=True)
def noop() -> None:
    now = time.time()
    pipe = _redis().pipeline(transaction=False)
    pipe.setnx(FIRST_KEY, now)
    pipe.incr(DONE_KEY)
    pipe.set(LAST_KEY, now)
    pipe.execute()


@app.task(name=HOP_TASK, ignore_result=True)
def hop(remaining: int) -> None:
    _redis().rpush(HOPS_KEY, time.time())
    if remaining:
        hop.apply_async((remaining - 1,), queue=QUEUE)
