"""Hatchet's `hatchet_sdk.context.context` path: `Context` and `DurableContext`."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.context import Context, DurableContext

__all__ = ["Context", "DurableContext"]
