"""The SDK's context variables, in a leaf module that imports nothing of the SDK at run time (as Hatchet's
own `contextvars.py`), so that every module can read them without tying the SDK into an import circle."""

from __future__ import annotations

import contextvars
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sfpserver.hatchet.context import Context

# The context of the task running in this thread/coroutine: children spawned from it get its ids.
current_context: contextvars.ContextVar[Context | None] = contextvars.ContextVar("hatchet_ctx", default=None)
