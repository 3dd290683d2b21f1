"""One line a task logged (`ctx.log`), as `hatchet.logs.list` returns it (Hatchet's `V1LogLine`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sfpserver.hatchet.clients.rest.models.v1_log_line_level import V1LogLineLevel


@dataclass
class V1LogLine:
    created_at: datetime
    message: str
    metadata: dict[str, Any] = field(default_factory=dict)
    task_external_id: str | None = None
    task_display_name: str | None = None
    retry_count: int | None = None
    attempt: int | None = None
    level: V1LogLineLevel | None = V1LogLineLevel.INFO
