"""Serving SDK workflows from the platform's own worker pools (`python -m workers standard|long-running`).

A module listed in ENGINE_WORKFLOW_MODULES calls `serve(...)` with its workflows: their shapes and task
code join this process's engine registry, so the pools run them and the server can trigger them by name.
Tasks choose a pool with a required desired worker label `pool=standard|long-running`.
"""

from __future__ import annotations

from typing import Any

from sfpserver.engine import services
from sfpserver.hatchet.unsupported import unsupported


def serve(*workflows: Any) -> None:
    for workflow in workflows:
        if workflow.options.default_filters:
            unsupported("default_filters", "serve")
        services.register_workflow(workflow.to_definition(), workflow.handlers())
