"""WebSocket routes of the live feed."""

from __future__ import annotations

from django.urls import path

from sfpserver.live.consumers import RunsFeed

websocket_urlpatterns = [
    path("ws/runs/", RunsFeed.as_asgi()),
    path("ws/runs/<uuid:run_id>/", RunsFeed.as_asgi()),
]
