"""Hatchet's `hatchet_sdk.hatchet` path: `Hatchet`."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from sfpserver.hatchet.client import Hatchet

__all__ = ["Hatchet"]
