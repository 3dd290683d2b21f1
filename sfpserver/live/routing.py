"""WebSocket routes of the live feed; any other path, and a run id that is not a UUID, is refused with close
code 4404 by the catch-all (sfpserver/live/unknown.py)."""

from __future__ import annotations

from django.urls import path, re_path

from sfpserver.live.consumers import RunsFeed
from sfpserver.live.unknown import UnknownFeed

websocket_urlpatterns = [
    path("ws/runs/", RunsFeed.as_asgi()),
    path("ws/runs/<uuid:run_id>/", RunsFeed.as_asgi()),
    re_path(r"^[\s\S]*$", UnknownFeed.as_asgi()),  # any other path, even one holding a newline
]
