"""`hatchet_sdk.clients.rest.models.v1_task_summary_list` (the class: sfpserver.hatchet.runs)."""

from __future__ import annotations

from sfpserver.hatchet.runs import V1TaskSummaryList

__all__ = ["V1TaskSummaryList"]
