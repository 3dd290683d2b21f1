"""Hatchet's `hatchet_sdk.clients.admin` path: the run detail `hatchet.runs.get_details` returns."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.runs import TaskRunDetail, WorkflowRunDetail
from sfpserver.hatchet.types import RunStatus

__all__ = ["RunStatus", "TaskRunDetail", "WorkflowRunDetail"]
