"""Hatchet's `hatchet_sdk.runnables.types` path: the option and input types (sfpserver.hatchet.types)."""

from __future__ import annotations

from sfpserver.hatchet.types import *  # noqa: F403 - the same names under Hatchet's module path
