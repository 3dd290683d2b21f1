"""A page of events (Hatchet's `V1EventList`)."""

from __future__ import annotations

from dataclasses import dataclass, field

from sfpserver.hatchet.clients.rest.models.v1_event import V1Event


@dataclass
class EventPagination:
    current_page: int | None = None
    next_page: int | None = None
    num_pages: int | None = None


@dataclass
class V1EventList:
    rows: list[V1Event] = field(default_factory=list)
    pagination: EventPagination | None = None
