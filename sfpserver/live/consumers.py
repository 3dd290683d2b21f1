"""The live feed's WebSocket consumer: `/ws/runs/` (every run the viewer may see) and `/ws/runs/{id}/`.

On connect it joins the group first, then sends a snapshot (the current state and, for one run, its
recent events), then forwards live messages. Channels hands a consumer its messages one at a time, so
everything published after the join waits until the snapshot is out: nothing is missed. An event
committed between the join and the snapshot's read is in both; the copy is dropped by id. (Ids are not
compared with `<=`: two steps' events can commit in the opposite order of their ids.)

A socket opened with a token is closed with 4401 once that token is revoked, expires or is deleted
(sfpserver/live/tokenwatch.py); from then on it sends nothing more.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from sfpserver.live import audience, groups, state, tokenwatch
from sfpserver.live.viewers import Viewer, accepted_protocol, viewer_for

logger = logging.getLogger(__name__)

UNAUTHORIZED = 4401  # close codes of a refused handshake (the HTTP answer is 403 either way)
NOT_FOUND = 4404
NOT_VISIBLE_RECHECK = 5.0  # seconds before a run found invisible is looked up again


class RunsFeed(AsyncJsonWebsocketConsumer):
    viewer: Viewer
    run_id: str | None = None
    group: str | None = None
    revoked = False  # closed because its token can no longer be used

    async def connect(self) -> None:
        viewer = await database_sync_to_async(viewer_for)(self.scope)
        if viewer is None:
            await self.close(code=UNAUTHORIZED)
            return
        run_id = self.scope["url_route"]["kwargs"].get("run_id")
        if run_id is not None and not await database_sync_to_async(viewer.can_see)(run_id):
            await self.close(code=NOT_FOUND)
            return
        self.viewer, self.run_id = viewer, str(run_id) if run_id else None
        self.visible: dict[str, tuple[bool, float]] = {}  # run id -> (may see, until when that holds)
        self.duplicates: set[int] = set()
        self.group = groups.run_group(run_id) if run_id else groups.ALL_RUNS
        await sync_to_async(audience.announce)()  # before subscribing: publishers start sending from here on
        self.keepalive = asyncio.ensure_future(self._keep_announcing())
        await self.channel_layer.group_add(self.group, self.channel_name)
        await self.accept(subprotocol=accepted_protocol(self.scope))
        if viewer.token is not None:
            tokenwatch.watch(viewer.token.id, self, self._token_gone)
        snapshot = await database_sync_to_async(self.snapshot)()
        if not self.revoked:
            await self.send_json(snapshot)

    async def disconnect(self, code: int) -> None:
        if getattr(self, "keepalive", None) is not None:
            self.keepalive.cancel()
        if getattr(self, "viewer", None) is not None and self.viewer.token is not None:
            tokenwatch.unwatch(self.viewer.token.id, self)
        if self.group is not None:
            await self.channel_layer.group_discard(self.group, self.channel_name)

    async def _token_gone(self) -> None:
        self.revoked = True
        await self.close(code=UNAUTHORIZED, reason="the token was revoked or has expired")

    async def _keep_announcing(self) -> None:
        while True:
            await asyncio.sleep(audience.REFRESH)
            try:
                await sync_to_async(audience.announce)()
            except Exception:  # noqa: BLE001 - a Redis hiccup only delays the next refresh
                logger.debug("live feed: could not refresh the audience key", exc_info=True)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        """Clients have nothing to say; a `{"type": "ping"}` gets a pong (keep-alive through proxies)."""
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    def snapshot(self) -> dict[str, Any]:
        if self.run_id is None:
            ids = self.viewer.recent_run_ids(settings.LIVE_RECENT_RUNS)
            return {"type": "snapshot", "runs": state.recent_runs(ids)}
        events = state.recent_events(self.run_id, settings.LIVE_RECENT_EVENTS)
        self.duplicates = {event["id"] for event in events}
        last = max(self.duplicates, default=0)
        return {"type": "snapshot", "run": state.run_state(self.run_id), "events": events, "last_event_id": last}

    async def live_message(self, message: dict[str, Any]) -> None:
        if self.revoked:
            return
        event_id = message["event_id"]
        if event_id is not None and event_id in self.duplicates:
            self.duplicates.discard(event_id)
            return
        if self.run_id is None and not await self._may_see(message["run_id"]):
            return
        try:
            await self.send(text_data=message["text"])
        except RuntimeError:  # the client left; its disconnect is the next thing this consumer handles
            logger.debug("live feed: message for a closed socket dropped")

    async def _may_see(self, run_id: str) -> bool:
        if self.viewer.sees_everything:
            return True
        seen, until = self.visible.get(run_id, (False, 0.0))
        if until > time.monotonic():
            return seen
        seen = await database_sync_to_async(self.viewer.can_see)(run_id)
        self.visible[run_id] = (seen, float("inf") if seen else time.monotonic() + NOT_VISIBLE_RECHECK)
        return seen
