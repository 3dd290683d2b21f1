"""Whether anyone is watching the live feed, so processes with no audience publish nothing.

Every open WebSocket keeps a short-lived Redis key alive (`announce`, on connect and then every
REFRESH seconds); the publisher checks the key (one EXISTS, no database) before reading any run state.
With no dashboard open, the engine's hot path costs the feed nothing; a viewer that connects announces
itself before it subscribes and reads its snapshot, so nothing after the snapshot is missed.
"""

from __future__ import annotations

import threading
from functools import cache
from typing import Any

import redis
from django.conf import settings

TTL = 30  # seconds the key outlives the last refresh
REFRESH = 10.0

_local = threading.local()


@cache
def _key() -> str:
    config: Any = settings.CHANNEL_LAYERS["default"]["CONFIG"]
    return f"{config.get('prefix', 'sfp-live')}:audience"


def _client() -> redis.Redis:
    client = getattr(_local, "client", None)
    if client is None:
        client = redis.Redis.from_url(settings.REDIS_URL, socket_connect_timeout=2, socket_timeout=2)
        _local.client = client
    return client


def announce() -> None:
    _client().set(_key(), 1, ex=TTL)


def present() -> bool:
    return bool(_client().exists(_key()))
