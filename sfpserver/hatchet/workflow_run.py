"""Hatchet's `hatchet_sdk.workflow_run` path: `WorkflowRunRef`."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.refs import WorkflowRunRef

__all__ = ["WorkflowRunRef"]
