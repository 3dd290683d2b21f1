"""An event as `hatchet.event.list` / `get` return it (Hatchet's `V1Event`), with the runs it started."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any


@dataclass
class EventMeta:
    id: str
    created_at: datetime
    updated_at: datetime


@dataclass
class V1EventWorkflowRunSummary:
    running: int = 0
    queued: int = 0
    succeeded: int = 0
    failed: int = 0
    cancelled: int = 0


@dataclass
class V1EventTriggeredRun:
    workflow_run_id: str
    filter_id: str | None = None


@dataclass
class V1Event:
    metadata: EventMeta
    key: str
    tenant_id: str
    workflow_run_summary: V1EventWorkflowRunSummary
    additional_metadata: dict[str, Any] | None = None
    payload: dict[str, Any] | None = None
    scope: str | None = None
    seen_at: datetime | None = None
    triggered_runs: list[V1EventTriggeredRun] = field(default_factory=list)
    triggering_webhook_name: str | None = None
    tenant: Any = None
