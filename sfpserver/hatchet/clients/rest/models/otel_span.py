"""A span of the engine's trace store (Hatchet's `OtelSpan`). No trace store here: the engine version reported
does not claim observability, so Hatchet's clients do not ask for spans."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import Enum


class OtelSpanKind(str, Enum):
    UNSPECIFIED = "UNSPECIFIED"
    INTERNAL = "INTERNAL"
    SERVER = "SERVER"
    CLIENT = "CLIENT"
    PRODUCER = "PRODUCER"
    CONSUMER = "CONSUMER"


class OtelStatusCode(str, Enum):
    UNSET = "UNSET"
    OK = "OK"
    ERROR = "ERROR"


@dataclass
class OtelSpan:
    trace_id: str
    span_id: str
    span_name: str
    span_kind: OtelSpanKind
    service_name: str
    status_code: OtelStatusCode
    duration_ns: int
    created_at: datetime
    retry_count: int
    parent_span_id: str | None = None
    status_message: str | None = None
    resource_attributes: dict[str, str] | None = None
    span_attributes: dict[str, str] | None = None
    scope_name: str | None = None
    scope_version: str | None = None
