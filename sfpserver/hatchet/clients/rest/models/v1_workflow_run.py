"""Hatchet's `hatchet_sdk.clients.rest.models.v1_workflow_run` path."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.runs import V1WorkflowRun

__all__ = ["V1WorkflowRun"]
