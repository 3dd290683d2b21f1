"""The level of a task's log line (Hatchet's `V1LogLineLevel`)."""

from __future__ import annotations

from enum import Enum


class V1LogLineLevel(str, Enum):
    DEBUG = "DEBUG"
    INFO = "INFO"
    WARN = "WARN"
    ERROR = "ERROR"
