"""Queue depth as the broker sees it: the length of each queue's Redis list, and of its priority sub-queues
(kombu keeps a message published with a priority in `<queue>\\x06\\x16<step>`)."""

from __future__ import annotations

from typing import Any

import redis
from django.conf import settings
from kombu.transport.redis import PRIORITY_STEPS, Channel

from sfpserver.monitoring.scrape import Scrape

TIMEOUT_SECONDS = 2.0

_client: redis.Redis | None = None


def _redis() -> redis.Redis:
    global _client
    if _client is None:
        _client = redis.Redis.from_url(
            settings.REDIS_URL, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
        )
    return _client


def _transport_options() -> dict[str, Any]:
    return dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", None) or {})


def sub_queues(queue: str) -> list[tuple[int, str]]:
    """(priority step, Redis key) of a queue's lists: the queue itself for step 0, then its sub-queues."""
    options = _transport_options()
    prefix = options.get("global_keyprefix", "")
    separator = options.get("sep", Channel.sep)
    steps = options.get("priority_steps", PRIORITY_STEPS)
    return [(step, f"{prefix}{queue}{separator}{step}" if step else f"{prefix}{queue}") for step in steps]


def broker(scrape: Scrape) -> None:
    queues = sorted(scrape.queues)
    keys = [(queue, step, key) for queue in queues for step, key in sub_queues(queue)]
    pipe = _redis().pipeline(transaction=False)
    for _, _, key in keys:
        pipe.llen(key)
    lengths = pipe.execute()
    family = scrape.gauge(
        "sfp_broker_queue_length",
        "Messages waiting in each Celery queue in Redis (priority 0: the queue itself; others only when not empty)",
    )
    for (queue, step, _), length in zip(keys, lengths, strict=True):
        if step == 0 or length:
            family.add(length, {"queue": queue, "priority": step})
