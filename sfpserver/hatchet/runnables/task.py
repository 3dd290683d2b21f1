"""Hatchet's `hatchet_sdk.runnables.task` path: the task and `Depends` (sfpserver.hatchet.task, .depends)."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.depends import Depends, InvalidDependencyError
from sfpserver.hatchet.task import Task

__all__ = ["Depends", "InvalidDependencyError", "Task"]
