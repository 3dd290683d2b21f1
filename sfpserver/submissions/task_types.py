"""Task types of sfp server's task API and the registered workflow each one starts. One line per type.

The sfp operations (tasks/) add their types here as they are written.
"""

from __future__ import annotations

TASK_TYPES: dict[str, str] = {
    "demo": "demo.pipeline",
}


def workflow_for(task_type: str) -> str | None:
    return TASK_TYPES.get(task_type)


def known_types() -> list[str]:
    return sorted(TASK_TYPES)
