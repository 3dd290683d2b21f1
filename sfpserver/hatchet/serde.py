"""Hatchet's serialisation context (`hatchet_sdk.serde`): the pydantic context the SDK passes whenever it
dumps or validates a workflow input or a task output, so that a model can (de)serialise itself differently on
its way through the engine (compress a large field, resolve a secret).

Every dump and validation of inputs and outputs in the SDK passes a context that this module recognises; the
one used at trigger also carries `at_trigger` (see `workflow.TRIGGER_CONTEXT`)."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

logger = logging.getLogger(__name__)

SERIALIZATION_KEY = "is_hatchet_serialization_context"
HATCHET_PYDANTIC_SENTINEL: Mapping[str, Any] = MappingProxyType({SERIALIZATION_KEY: True})


def serialization_context(**extra: Any) -> Mapping[str, Any]:
    """The serialisation context with extra keys of our own (read-only)."""
    return MappingProxyType({SERIALIZATION_KEY: True, **extra})


def is_in_hatchet_serialization_context(context: Any) -> bool:
    """Whether a pydantic `ValidationInfo.context` (or `SerializationInfo.context`) is the SDK's."""
    if isinstance(context, Mapping):
        return context.get(SERIALIZATION_KEY) is True
    if hasattr(context, "context"):
        logger.warning("pass ValidationInfo.context to is_in_hatchet_serialization_context, not the info itself")
    return False


__all__ = ["HATCHET_PYDANTIC_SENTINEL", "is_in_hatchet_serialization_context"]
