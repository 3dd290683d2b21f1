"""The engine versions Hatchet's SDK asks for before using a feature (`hatchet_sdk.engine_version`).

Code that checks the engine's version before using a feature (Hatchet's own test harness does) compares what
`Hatchet.aio_get_engine_version()` answers with these.
"""

from __future__ import annotations

from enum import Enum


class MinEngineVersion(str, Enum):
    """The oldest Hatchet engine that has a feature."""

    SLOT_CONFIG = "v0.78.23"
    DURABLE_EVICTION = "v0.80.0"
    OBSERVABILITY = "v0.82.0"
    BATCHING = "v0.88.1"
