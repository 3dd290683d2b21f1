"""The WebSocket consumer of every path the live feed does not serve (`/ws/nothing/`, `/ws/runs/not-a-uuid/`):
it refuses the handshake with close code 4404 (consumers.NOT_FOUND, the code of a run the viewer may not see),
so that the router's "No route found" error never reaches the ASGI server, which would answer it with an
HTTP 500. Like every refused handshake, a real server turns the close into an HTTP 403."""

from __future__ import annotations

from channels.generic.websocket import AsyncWebsocketConsumer

from sfpserver.live.consumers import NOT_FOUND


class UnknownFeed(AsyncWebsocketConsumer):
    async def connect(self) -> None:
        await self.close(code=NOT_FOUND)
