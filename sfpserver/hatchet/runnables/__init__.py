"""The old home of workflows and tasks, kept so that `from sfpserver.hatchet.runnables import ...` still works.

The SDK is split as Hatchet's is: `options` (the frozen option objects), `task` (Task), `workflow`
(BaseWorkflow, Workflow, Standalone), `definition` (compile to the engine's WorkflowDef), `trigger`,
`refs` (run refs and results) and `runs` (the `hatchet.runs` client). New code imports from those.
"""

from __future__ import annotations

from sfpserver.hatchet.definition import concurrency_spec, queue_for, rate_limit_spec
from sfpserver.hatchet.options import (
    DEFAULT_EXECUTION_TIMEOUT,
    DEFAULT_SCHEDULE_TIMEOUT,
    POOL_LABEL,
    TaskOptions,
    WorkflowOptions,
)
from sfpserver.hatchet.task import ACTION_PREFIX, Task
from sfpserver.hatchet.workflow import TRIGGER_CONTEXT, BaseWorkflow, Standalone, Workflow, to_jsonable

__all__ = [
    "ACTION_PREFIX",
    "DEFAULT_EXECUTION_TIMEOUT",
    "DEFAULT_SCHEDULE_TIMEOUT",
    "POOL_LABEL",
    "TRIGGER_CONTEXT",
    "BaseWorkflow",
    "Standalone",
    "Task",
    "TaskOptions",
    "Workflow",
    "WorkflowOptions",
    "concurrency_spec",
    "queue_for",
    "rate_limit_spec",
    "to_jsonable",
]
