"""Plain Celery for comparison, as its users run it: an app of its own with the project's Celery settings (same
broker, serializer, acks_late, prefetch, task events) and kombu's own Redis transport, not the project's
(config/redis_transport.py: its shared client and in-memory acknowledgements make plain Celery faster too, some
1.7 times on this machine; the durable side's figures are to be read against Celery as it comes). Served by
`celery -A bench.plain worker` with the pool and concurrency each comparison says.

`noop` records itself in Redis in one round trip (the completion count and the first/last times), so the bench
sees when the queue is drained; `hop` records its start and publishes the next task of its chain.
"""

from __future__ import annotations

import time
from functools import cache

import redis
from celery import Celery
from django.conf import settings

import config.celery  # noqa: F401 - its logging receiver: the workers log as the project's do

app = Celery("bench-plain")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.conf.broker_transport = None  # kombu's own: Celery as it comes

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
