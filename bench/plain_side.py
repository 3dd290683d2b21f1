"""Plain Celery's figures: N no-op messages published to one worker node and drained, and chains of tasks each
publishing the next (what a hand-off costs Celery alone)."""

from __future__ import annotations

import time
from itertools import pairwise

import redis
from django.conf import settings

from bench import cpu, plain
from bench.measure import wait_until
from bench.procs import plain_node
from bench.results import Throughput, drain_timeout
from bench.run import Options


def measure(options: Options, env: dict[str, str], chains: int | None = None) -> tuple[Throughput, list[float]]:
    """N messages published (timed) to a running worker node, timed until the last task finished: end to end
    from the first publish, and the drain from the first task's start (each task records itself in Redis)."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    reset(client)
    node = plain_node(plain.QUEUE, options.concurrency, env)
    try:
        warm_up(client)
        cpu_started = cpu.process_seconds(node.proc.pid)
        published = time.time()
        _publish(options.runs)
        publishing = time.time() - published
        wait_until(
            lambda: done(client) >= options.runs,
            timeout=drain_timeout(options.runs),
            interval=0.01,
            what="the plain Celery worker to drain its queue",
        )
        cpu_used = cpu.process_seconds(node.proc.pid) - cpu_started
        hops = _hops(client, options.chains if chains is None else chains)
    finally:
        node.stop()
    first, last = float(client.get(plain.FIRST_KEY) or 0), float(client.get(plain.LAST_KEY) or 0)
    client.close()
    detail = f"publishing {publishing:.2f}s, first task start → last finish {last - first:.2f}s"
    result = Throughput(options.runs, last - published, detail, drain_seconds=last - first)
    result.cpu = {"worker": cpu_used * 1000 / options.runs}
    return result, hops


def warm_up(client: redis.Redis) -> None:
    """One task through the started worker, so the timing starts with a worker ready to consume."""
    _publish(1)
    wait_until(lambda: done(client) >= 1, timeout=90, interval=0.01, what="the plain worker to start")
    client.delete(plain.DONE_KEY, plain.FIRST_KEY, plain.LAST_KEY)


def reset(client: redis.Redis) -> None:
    app = plain.app
    client.delete(plain.DONE_KEY, plain.FIRST_KEY, plain.LAST_KEY, plain.HOPS_KEY)
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(plain.QUEUE)  # type: ignore[attr-defined]


def _publish(count: int) -> None:
    app = plain.app

    with app.producer_or_acquire() as producer:  # type: ignore[attr-defined]
        for _ in range(count):
            app.send_task(plain.TASK, queue=plain.QUEUE, producer=producer)


def done(client: redis.Redis) -> int:
    return int(client.get(plain.DONE_KEY) or 0)


def _hops(client: redis.Redis, chains: int, length: int = 10) -> list[float]:
    """Chains of `length` tasks, one at a time; each sample is a task's start minus its parent's start."""
    samples: list[float] = []
    for _ in range(chains):
        client.delete(plain.HOPS_KEY)
        plain.hop.apply_async((length - 1,), queue=plain.QUEUE)
        wait_until(lambda: client.llen(plain.HOPS_KEY) >= length, timeout=30, interval=0.005, what="a task chain")
        starts = [float(value) for value in client.lrange(plain.HOPS_KEY, 0, -1)]
        samples.extend((child - parent) * 1000 for parent, child in pairwise(starts))
    return samples
