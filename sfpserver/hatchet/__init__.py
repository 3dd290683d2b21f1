"""A Hatchet-compatible SDK on the durable engine: `from sfpserver.hatchet import Hatchet, Context, ...`.

The names are resolved lazily (PEP 562): importing this package does nothing, and the first name a plain
script imports sets Django up, so the SDK works with nothing but DATABASE_URL / REDIS_URL in the environment.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "Hatchet": "client",
    "Context": "context",
    "DurableContext": "context",
    "Depends": "depends",
    "IdempotencyMethod": "idempotency",
    "StatusBasedIdempotencyConfig": "idempotency",
    "TTLBasedIdempotencyConfig": "idempotency",
    "DedupeViolationError": "exceptions",
    "FailedTaskRunExceptionGroup": "exceptions",
    "IllegalTaskOutputError": "exceptions",
    "IdempotencyCollisionError": "exceptions",
    "BulkTriggerIdempotencyCollisionError": "exceptions",
    "NonRetryableException": "exceptions",
    "NonDeterminismError": "exceptions",
    "SleepCondition": "conditions",
    "UserEventCondition": "conditions",
    "ParentCondition": "conditions",
    "OrGroup": "conditions",
    "or_": "conditions",
    "RetryAfterException": "exceptions",
    "TaskRunError": "exceptions",
    "Standalone": "workflow",
    "Task": "task",
    "Workflow": "workflow",
    "TaskRunRef": "refs",
    "WorkflowRunRef": "refs",
    "Worker": "worker",
    "ClientConfig": "config",
    "ClientTLSConfig": "config",
    "OpenTelemetryConfig": "config",
    "Condition": "conditions",
    "EvictionNotSupportedError": "exceptions",
    "is_in_hatchet_serialization_context": "serde",
    "StepRunEventType": "clients.listeners.run_event_listener",
    "WorkflowRunEventType": "clients.listeners.run_event_listener",
    **{
        name: "types"
        for name in (
            "BulkCancelReplayOpts",
            "BulkPushEventOptions",
            "BulkPushEventWithMetadata",
            "ConcurrencyExpression",
            "ConcurrencyLimitStrategy",
            "DefaultFilter",
            "DesiredWorkerLabel",
            "EmptyModel",
            "EvictionPolicy",
            "SleepResult",
            "Priority",
            "PushEventOptions",
            "RateLimit",
            "RateLimitDuration",
            "RunFilter",
            "RunStatus",
            "ScheduleTriggerWorkflowOptions",
            "StickyStrategy",
            "TaskDefaults",
            "TriggerWorkflowOptions",
            "V1TaskStatus",
            "WorkerLabel",
            "WorkerLabelComparator",
            "WorkerStatus",
            "WorkflowRunTriggerConfig",
        )
    },
}

__all__ = sorted(_EXPORTS)

_UNSUPPORTED = {"DedupeViolationError"}  # exported for compatibility, never raised (see the README)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'sfpserver.hatchet' has no attribute {name!r}")
    from sfpserver.hatchet.setup import ensure_django

    ensure_django()
    if name in _UNSUPPORTED:
        from sfpserver.hatchet.unsupported import unsupported

        unsupported(name, "sfpserver.hatchet")
    return getattr(importlib.import_module(f"sfpserver.hatchet.{module}"), name)
