"""Step messages straight onto the broker's Redis lists, several in one pipeline (one round trip).

A step message is always the same: the task engine.run_step, the arguments [step id, attempt], a queue and a
priority. Celery's `send_task` builds it through routing, options, a producer and kombu's virtual channel, then
sends one LPUSH per message: some 0.4 ms of Python each, most of what a trigger cost beside its one statement.
Here the message is the one kombu's Redis transport would have written (its JSON envelope, the list of its
priority step), and what every message shares (Celery's headers, the reply address) is taken once from Celery
itself (`app.amqp.as_task_v2`), so a worker reads exactly what Celery would have sent.

Only for a Redis broker (the platform's); with any other, `send` says so and the caller publishes through Celery.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from dataclasses import dataclass
from functools import cache
from typing import Any
from uuid import UUID, uuid4

import redis
from django.conf import settings
from kombu.transport.redis import Channel

from sfpserver.engine.messages import Dispatch

RUN_STEP_TASK = "engine.run_step"
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
SOCKET_TIMEOUT = 2.0  # seconds, as the workers' broker connection timeout (CELERY_BROKER_CONNECTION_TIMEOUT)


def is_redis() -> bool:
    return str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://", "unix://"))


def broker_priority(priority: int) -> int:
    """Redis (kombu) serves lower numbers first, in the steps 0, 3, 6, 9: retries 0, HIGH 3, MEDIUM 6, LOW 9."""
    return {4: 0, 3: 3, 2: 6}.get(priority, 9)


def send(items: list[Dispatch], names: dict[UUID, str]) -> None:
    """Push every item's message in one pipeline; a redis.RedisError when the broker did not take them all (then
    any of them may or may not be there: the claim's fence discards a duplicate the sweeper sends)."""
    if not items:
        return
    with _client().pipeline(transaction=False) as pipe:
        for item in items:
            priority = broker_priority(item.priority)
            pipe.lpush(list_key(item.queue, priority), encode(item, priority, names.get(item.step_id)))
        pipe.execute()


def list_key(queue: str, priority: int) -> str:
    """The Redis list kombu keeps a queue's messages of one priority step in."""
    return f"{queue}{Channel.sep}{priority}" if priority else queue


def encode(item: Dispatch, priority: int, shown_as: str | None) -> str:
    """The message of one step attempt, as kombu's Redis transport stores it."""
    shared = _shared()
    task_id = str(uuid4())
    args = [str(item.step_id), item.attempt]
    body = json.dumps([args, {}, _EMBED]).encode()
    headers = {
        **shared.headers,
        "id": task_id,
        "root_id": task_id,
        "shadow": shown_as,
        "argsrepr": repr(args),
    }
    message = {
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            "correlation_id": task_id,
            "reply_to": shared.reply_to,
            "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": item.queue},
            "priority": priority,
            "body_encoding": "base64",
            "delivery_tag": str(uuid4()),
        },
    }
    return json.dumps(message)


@dataclass(frozen=True)
class _Shared:
    headers: dict[str, Any]
    reply_to: str


@cache
def _shared() -> _Shared:
    """What Celery puts in every message of engine.run_step, taken from Celery once per process."""
    from config.celery import app

    message = app.amqp.as_task_v2("0", RUN_STEP_TASK, args=["", 0])  # type: ignore[attr-defined]
    headers = {k: v for k, v in message.headers.items() if k not in ("id", "root_id", "shadow", "argsrepr")}
    headers["ignore_result"] = None  # as send_task leaves it: the task's own setting (results are off) decides
    return _Shared(headers, str(message.properties.get("reply_to") or ""))


_clients: dict[int, redis.Redis] = {}  # per process: a client's pool must not cross a fork
_clients_lock = threading.Lock()


def _client() -> redis.Redis:
    pid = os.getpid()
    with _clients_lock:
        client = _clients.get(pid)
        if client is None:
            url = settings.CELERY_BROKER_URL
            client = redis.Redis.from_url(url, socket_timeout=SOCKET_TIMEOUT, socket_connect_timeout=SOCKET_TIMEOUT)
            _clients.clear()
            _clients[pid] = client
        return client
