"""A task's log lines (Hatchet's `V1LogLineList`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sfpserver.hatchet.clients.rest.models.v1_event_list import EventPagination
from sfpserver.hatchet.clients.rest.models.v1_log_line import V1LogLine


@dataclass
class V1LogLineList:
    rows: list[V1LogLine] = field(default_factory=list)
    pagination: EventPagination | None = None
