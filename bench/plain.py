"""Plain Celery for comparison: a no-op task on the project's own Celery app (same broker, serializer,
acks_late, prefetch), served by `celery -A bench.plain worker` with the durable node's pool and concurrency.

Each execution records itself in Redis in one round trip (the completion count and the first/last times),
so the bench can see when the queue is drained.
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
