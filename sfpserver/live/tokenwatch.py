"""Open sockets follow their token: a socket opened with a token that is then revoked, expires or is deleted
is closed (4401) within LIVE_TOKEN_RECHECK_SECONDS.

The truth is the token's row in Postgres, so a revocation made anywhere (the admin, `manage.py
revoke_token`, `make run` replacing its link's token, an SQL UPDATE, another API process) and an expiry
that no one acts on are both seen. One watch per event loop (one per API process under uvicorn) holds the
sockets opened with a token and asks, every interval, in one query for all of them, which of their tokens
can no longer be used: the cost is one query per process per interval, however many sockets are open. The
watch runs only while it holds sockets. A failed check (the database away) keeps the sockets open until a
check succeeds; it is logged and retried on the next tick (database_sync_to_async drops a broken
connection, so a restarted database is reconnected).
"""

from __future__ import annotations

import asyncio
import logging
import weakref
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async
from django.conf import settings

from sfpserver.accounts import tokens

logger = logging.getLogger(__name__)

Close = Callable[[], Awaitable[None]]  # closes one socket with 4401

_watches: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Watch] = weakref.WeakKeyDictionary()


class Watch:
    def __init__(self) -> None:
        self.sockets: dict[int, dict[object, Close]] = {}  # token id -> {socket: how to close it}
        self.task: asyncio.Task[None] | None = None

    def add(self, token_id: int, socket: object, close: Close) -> None:
        self.sockets.setdefault(token_id, {})[socket] = close
        if self.task is None:
            self.task = asyncio.ensure_future(self._run())

    def discard(self, token_id: int, socket: object) -> None:
        held = self.sockets.get(token_id, {})
        held.pop(socket, None)
        if not held:
            self.sockets.pop(token_id, None)

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(settings.LIVE_TOKEN_RECHECK_SECONDS)
            if not self.sockets:  # no await between this test and a later add(): add() starts a new task
                self.task = None
                return
            await self._check(list(self.sockets))

    async def _check(self, token_ids: list[int]) -> None:
        try:
            gone = await database_sync_to_async(tokens.unusable)(token_ids)
        except Exception:  # noqa: BLE001 - the database away: keep watching, check again next tick
            logger.warning("live feed: could not re-check the tokens of open sockets", exc_info=True)
            return
        for token_id in gone:
            closes = list(self.sockets.pop(token_id, {}).values())
            logger.info("live feed: closing sockets of an unusable token", extra={"token_id": token_id})
            for close in closes:
                await _quietly(close)


async def _quietly(close: Close) -> None:
    try:
        await close()
    except Exception:  # noqa: BLE001 - a socket that is already gone needs no closing
        logger.debug("live feed: closing a socket failed", exc_info=True)


def watch(token_id: int, socket: object, close: Close) -> None:
    """Close `socket` (by calling `close`) once its token can no longer be used."""
    _watch().add(token_id, socket, close)


def unwatch(token_id: int, socket: object) -> None:
    _watch().discard(token_id, socket)


def _watch() -> Watch:
    loop = asyncio.get_running_loop()
    if loop not in _watches:
        _watches[loop] = Watch()
    return _watches[loop]
