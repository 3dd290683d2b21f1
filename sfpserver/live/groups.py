"""Channel-layer group names and the one message type the feed's consumers handle."""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID

ALL_RUNS = "live.runs"  # every run's status changes and progress; consumers filter by visibility
MESSAGE_TYPE = "live.message"  # handled by RunsFeed.live_message


def run_group(run_id: UUID | str) -> str:
    return f"live.run.{UUID(str(run_id)).hex}"


def envelope(run_id: UUID | str, payload: dict[str, Any]) -> dict[str, Any]:
    """The payload is encoded to JSON once, here, not once per socket; consumers read only the ids."""
    event_id = payload["event"]["id"] if payload["type"] == "event" else None
    return {"type": MESSAGE_TYPE, "run_id": str(run_id), "event_id": event_id, "text": json.dumps(payload)}
