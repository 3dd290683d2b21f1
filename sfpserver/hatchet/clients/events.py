"""Hatchet's `hatchet_sdk.clients.events` path: the event client and its types."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.features import Event, EventClient
from sfpserver.hatchet.types import BulkPushEventOptions, BulkPushEventWithMetadata, PushEventOptions

__all__ = ["BulkPushEventOptions", "BulkPushEventWithMetadata", "Event", "EventClient", "PushEventOptions"]
