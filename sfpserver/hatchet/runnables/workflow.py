"""Hatchet's `hatchet_sdk.runnables.workflow` path (sfpserver.hatchet.workflow)."""

from __future__ import annotations

from sfpserver.hatchet.workflow import BaseWorkflow, Standalone, Workflow

__all__ = ["BaseWorkflow", "Standalone", "Workflow"]
