"""Hatchet's `hatchet_sdk.labels` path: worker labels and a task's desired labels."""

from __future__ import annotations

from sfpserver.hatchet.types import DesiredWorkerLabel, WorkerLabel, WorkerLabelComparator

__all__ = ["DesiredWorkerLabel", "WorkerLabel", "WorkerLabelComparator"]
