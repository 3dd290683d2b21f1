"""The SDK's context variables, in a leaf module that imports nothing of the SDK at run time (as Hatchet's
own `contextvars.py`), so that every module can read them without tying the SDK into an import circle.

`workflow_spawn_indices` counts, per attempt of a running task (its action key, `<task run id>/<retry count>`),
the children spawned so far without a key or an index: the next one gets that count as its child index, so a
retried attempt spawns indices 0, 1, ... again and finds the children it already spawned."""

from __future__ import annotations

import contextvars
from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sfpserver.hatchet.context import Context

ActionKey = str

# The context of the task running in this thread/coroutine: children spawned from it get its ids.
current_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar("hatchet_ctx", default=None)
# The action key of the task attempt running in this thread/coroutine (Hatchet's name).
ctx_action_key: contextvars.ContextVar[ActionKey | None] = contextvars.ContextVar("ctx_action_key", default=None)
workflow_spawn_indices: Counter[ActionKey] = Counter()


def action_key(task_run_id: str, retry_count: int) -> ActionKey:
    return f"{task_run_id}/{retry_count}"
