"""Hatchet's `hatchet_sdk.runnables.workflow` path: the workflow classes and `TaskRunRef`."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from enum import Enum

from sfpserver.hatchet.refs import TaskRunRef
from sfpserver.hatchet.workflow import BaseWorkflow, Standalone, Workflow


class MCPProvider(str, Enum):
    """The agent frameworks a task can be offered to as an MCP tool (`Standalone.mcp_tool`)."""

    CLAUDE = "CLAUDE"
    OPENAI = "OPENAI"


__all__ = ["BaseWorkflow", "MCPProvider", "Standalone", "TaskRunRef", "Workflow"]
