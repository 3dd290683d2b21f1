"""The Redis broker transport of worker processes (settings.WORKER_BROKER_TRANSPORT), with three changes.

A worker must survive the broker going away mid-task.

kombu 5.7's Redis channel reads the broker's address from its connection when it is closed, to push the
unacknowledged messages back; but when Celery closes a connection it lost, the connection no longer knows
its address, so a worker running a late-acknowledged task died of an AttributeError whenever Redis
restarted. This channel remembers the address it was opened with. Messages that cannot be pushed back
stay in Redis' unacked set; the engine re-publishes any queued step whose message was lost anyway.

And a worker should not build a Redis client for every command it sends: kombu's channel makes a new one (its
constructor copies some 170 response callbacks) for each published message, each task event and each ack,
about a fifth of a worker's main thread (see bench/). This channel keeps one per connection pool; a client
holds no connection of its own (each command borrows one from the pool), so sharing it changes nothing else.

And a worker keeps the messages it has taken but not acknowledged in its own memory, not in a Redis hash and index
as well: kombu writes both when a message is delivered and deletes both when it is acknowledged, two round trips
on the consumer's thread per message (half of that thread's time under load). What the hash was for: pushing a
message back when its worker stops (kept: a warm shutdown, and a rejection asking for it, push the message back
from memory) and when its worker died, once the visibility timeout has passed (12 hours here: the engine re-queues
a step whose message was lost long before, ENGINE_REDISPATCH_AFTER; a message restored after that would be a
duplicate, discarded by the claim's fence). Entries an older worker left in the hash are still restored as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis, virtual


class QoS(redis.QoS):
    """Unacknowledged messages in memory only (see the module's docstring)."""

    def append(self, message: Any, delivery_tag: str) -> None:
        virtual.QoS.append(self, message, delivery_tag)

    def ack(self, delivery_tag: str) -> None:
        virtual.QoS.ack(self, delivery_tag)

    def reject(self, delivery_tag: str, requeue: bool = False) -> None:
        if requeue:
            self._push_back([self._delivered[delivery_tag]], leftmost=True)
        virtual.QoS.ack(self, delivery_tag)

    def restore_unacked(self, client: Any = None) -> list[tuple[BaseException, Any]]:
        """Push every message taken and not acknowledged back onto its queue (a warm shutdown); the failures."""
        self._flush()
        messages = list(self._delivered.values())
        self._delivered.clear()
        try:
            self._push_back(messages, client=client)
        except Exception as exc:  # noqa: BLE001 - kombu reports them (restore_unacked_once); the engine re-queues
            return [(exc, message) for message in messages]
        return []

    def _push_back(self, messages: list[Any], leftmost: bool = False, client: Any = None) -> None:
        if not messages:
            return
        with self.channel.conn_or_acquire(client) as connected:
            pipe = connected.pipeline()
            for message in messages:
                delivery = message.delivery_info
                self.channel._do_restore_message(
                    message._raw, delivery["exchange"], delivery["routing_key"], pipe, leftmost
                )
            pipe.execute()


class Channel(redis.Channel):
    QoS = QoS
    _shared_client: tuple[Any, Any] | None = None  # (the pool it was made for, the client)

    @contextmanager
    def conn_or_acquire(self, client: Any = None) -> Iterator[Any]:
        if client:
            yield client
            return
        pool = self.pool  # a new pool after a fork or a reconnect gets a new client
        if self._shared_client is None or self._shared_client[0] is not pool:
            self._shared_client = (pool, self._create_client())
        yield self._shared_client[1]

    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        remembered: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_remembered_connparams", {})
        if self.connection.client is not None:
            remembered[asynchronous] = super()._connparams(asynchronous=asynchronous)
        return dict(remembered[asynchronous])


class Transport(redis.Transport):
    Channel = Channel
