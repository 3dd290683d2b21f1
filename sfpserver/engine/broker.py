"""Step messages straight onto the broker's Redis lists, several in one pipeline (one round trip).

A step message is always the same: the task engine.run_step, the arguments [step id, attempt], a queue and a
priority. Celery's `send_task` builds it through routing, options, a producer and kombu's virtual channel, then
sends one LPUSH per message: some 0.4 ms of Python each, most of what a trigger cost beside its one statement.
Here the message is the one kombu's Redis transport would have written (its JSON envelope, the list of its
priority step), and what every message shares (Celery's headers, the reply address) is taken once from Celery
itself (`app.amqp.as_task_v2`), so a worker reads exactly what Celery would have sent.

Only for a Redis broker (the platform's); with any other, `send` says so and the caller publishes through Celery.

The pushes are pipelined across commits: `send` writes a batch's pushes on its thread's own connection and returns
without waiting for Redis's answers; they are read at that thread's next send (by then they have arrived), or by
`confirm_all` (a tenth of a second later, or at the process's exit: engine/dispatch.py). So a trigger returns when
its statement commits, not a broker round trip later. A push Redis refused, or whose answer was lost with the
connection, is reported then, and the caller marks its step undispatched as it would have at once (the scheduler
publishes it again; a duplicate of a message that did get through is discarded by the claim's fence). A connection
idle for HEALTH_CHECK seconds is checked (a PING) before it is written to, so a broker that restarted meanwhile is
seen at once, as a plain round trip would have seen it.
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
HEALTH_CHECK = 1.0  # seconds a publishing connection may idle before it is checked with a PING at its next use
SOCKET_TIMEOUT = 2.0  # seconds, as the workers' broker connection timeout (CELERY_BROKER_CONNECTION_TIMEOUT)


def is_redis() -> bool:
    return str(settings.CELERY_BROKER_URL).startswith(("redis://", "rediss://", "unix://"))


def broker_priority(priority: int) -> int:
    """Redis (kombu) serves lower numbers first, in the steps 0, 3, 6, 9: retries 0, HIGH 3, MEDIUM 6, LOW 9."""
    return {4: 0, 3: 3, 2: 6}.get(priority, 9)


def send(items: list[Dispatch], names: dict[UUID, str]) -> list[UUID]:
    """Write every item's push in one go on this thread's connection, without waiting for the answers; the steps of
    this thread's earlier sends that the broker did not take (see the module's docstring). A redis.RedisError when
    this batch could not be written (then any of it may or may not be there: the claim's fence discards a
    duplicate the scheduler sends)."""
    link = _link()
    with link.lock:
        refused = link.confirm()
        if items:
            commands = []
            for item in items:
                priority = broker_priority(item.priority)
                key = list_key(item.queue, priority)
                commands.append(("LPUSH", key, encode(item, priority, names.get(item.step_id))))
            try:
                link.conn.send_packed_command(link.conn.pack_commands(commands))
            except BaseException:
                link.conn.disconnect()  # a half-written batch must not be followed on this connection
                raise
            link.unread.append([item.step_id for item in items])
    return refused + _take_refused_by_ended() if _refused_by_ended else refused


def confirm_all() -> list[UUID]:
    """Read the answers every thread of this process has not read yet; the steps the broker did not take."""
    with _links_lock:
        links = list(_links.values()) if _links_pid == os.getpid() else []
    refused = _take_refused_by_ended()
    for link in links:
        with link.lock:
            refused += link.confirm()
    return refused


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


class _Link:
    """One thread's connection to the broker, and the steps of its sends whose answers it has not read."""

    def __init__(self) -> None:
        self.conn = _client().connection_pool.make_connection()
        self.unread: list[list[UUID]] = []
        self.lock = threading.Lock()  # its thread sends, `confirm_all` may read from another

    def confirm(self) -> list[UUID]:
        """Read the answers waiting; the steps of those that refused their push, or were lost with the connection."""
        refused: list[UUID] = []
        while self.unread:
            steps = self.unread.pop(0)
            for index, step in enumerate(steps):
                try:
                    self.conn.read_response()
                except redis.ResponseError:
                    refused.append(step)  # this push only; the next answers are still there to read
                except Exception:  # noqa: BLE001 - whatever broke the read, nothing unread can be known any more
                    refused += steps[index:] + [step for later in self.unread for step in later]
                    self._drop()
                    break
                except BaseException:  # a stop (StepInterrupted) in this thread: the sweeper sends those again
                    self._drop()
                    raise
        return refused

    def _drop(self) -> None:
        self.conn.disconnect()
        self.unread.clear()


_links: dict[threading.Thread, _Link] = {}  # by thread (the object: an ended thread's ident may be given to a new one)
_links_pid = 0
_links_lock = threading.Lock()
_refused_by_ended: list[UUID] = []  # what the links of ended threads reported, for the next send to pass on


def _link() -> _Link:
    me = threading.current_thread()
    global _links_pid
    with _links_lock:
        if _links_pid != os.getpid():  # a forked child must not read its parent's answers
            _links.clear()
            _links_pid = os.getpid()
        link = _links.get(me)
        if link is not None:
            return link
        ended = [_links.pop(thread) for thread in list(_links) if not thread.is_alive()]
        link = _links[me] = _Link()
    for old in ended:  # their threads ended: their answers are read here (under their lock, as `confirm_all` reads)
        with old.lock:
            refused = old.confirm()
            old.conn.disconnect()
        with _links_lock:
            _refused_by_ended.extend(refused)
    return link


def _take_refused_by_ended() -> list[UUID]:
    with _links_lock:
        taken = list(_refused_by_ended)
        _refused_by_ended.clear()
        return taken


_clients: dict[int, redis.Redis] = {}  # per process: a client's pool must not cross a fork
_clients_lock = threading.Lock()


def _client() -> redis.Redis:
    pid = os.getpid()
    with _clients_lock:
        client = _clients.get(pid)
        if client is None:
            url = settings.CELERY_BROKER_URL
            client = redis.Redis.from_url(
                url,
                socket_timeout=SOCKET_TIMEOUT,
                socket_connect_timeout=SOCKET_TIMEOUT,
                health_check_interval=HEALTH_CHECK,
            )
            _clients.clear()
            _clients[pid] = client
        return client
