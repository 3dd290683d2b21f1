"""Hatchet's `hatchet_sdk.clients.rest.models.v1_task_summary_list` path."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.runs import V1TaskSummaryList

__all__ = ["V1TaskSummaryList"]
