"""The Redis broker transport of worker processes (settings.WORKER_BROKER_TRANSPORT), with one fix: a worker
must survive the broker going away mid-task.

kombu 5.7's Redis channel reads the broker's address from its connection when it is closed, to push the
unacknowledged messages back; but when Celery closes a connection it lost, the connection no longer knows
its address, so a worker running a late-acknowledged task died of an AttributeError whenever Redis
restarted. This channel remembers the address it was opened with. Messages that cannot be pushed back
stay in Redis' unacked set; the engine re-publishes any queued step whose message was lost anyway.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis


class Channel(redis.Channel):
    def _connparams(self, asynchronous: bool = False) -> dict[str, Any]:
        remembered: dict[bool, dict[str, Any]] = self.__dict__.setdefault("_remembered_connparams", {})
        if self.connection.client is not None:
            remembered[asynchronous] = super()._connparams(asynchronous=asynchronous)
        return dict(remembered[asynchronous])


class Transport(redis.Transport):
    Channel = Channel
