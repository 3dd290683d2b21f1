"""Channel-layer group names and the one message type the feed's consumers handle."""

from __future__ import annotations

from typing import Any
from uuid import UUID

ALL_RUNS = "live.runs"  # every run's status changes and progress; consumers filter by visibility
MESSAGE_TYPE = "live.message"  # handled by RunsFeed.live_message


def run_group(run_id: UUID | str) -> str:
    return f"live.run.{UUID(str(run_id)).hex}"


def envelope(run_id: UUID | str, payload: dict[str, Any]) -> dict[str, Any]:
    return {"type": MESSAGE_TYPE, "run_id": str(run_id), "payload": payload}
