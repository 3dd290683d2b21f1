"""The states of a scheduled run (Hatchet's `ScheduledRunStatus`)."""

from __future__ import annotations

from enum import Enum


class ScheduledRunStatus(str, Enum):
    PENDING = "PENDING"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    CANCELLED = "CANCELLED"
    QUEUED = "QUEUED"
    SCHEDULED = "SCHEDULED"
