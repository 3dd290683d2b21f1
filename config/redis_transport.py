"""The Redis broker transport of worker processes (settings.WORKER_BROKER_TRANSPORT), with two fixes.

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
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
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
