"""Hatchet's `hatchet_sdk.clients.rest.models.v1_workflow_run_details` path."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.runs import V1WorkflowRunDetails

__all__ = ["V1WorkflowRunDetails"]
