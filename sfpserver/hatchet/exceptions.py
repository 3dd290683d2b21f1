"""Hatchet's exceptions, with the same names and text formats (reference/hatchet-sdk.md §1.19)."""

from __future__ import annotations

import json
import traceback
from datetime import timedelta

import sfpserver.hatchet.ready  # noqa: F401  (a plain script may import this module first)

# isort: split

from sfpserver.engine.services import NonRetryableError
from sfpserver.hatchet.engine_version import MinEngineVersion

TASK_RUN_ERROR_METADATA_KEY = "__hatchet_error_metadata__"


class NonRetryableException(NonRetryableError):
    """Raise from a task to fail it without using its remaining retries."""


class RetryAfterException(Exception):
    def __init__(self, message: str = "", *, after: timedelta) -> None:
        super().__init__(message)
        self.after = after


class DedupeViolationError(Exception):
    """A workflow has already been run with this deduplication value."""


class InvalidDependencyError(Exception):
    """A `Depends(...)` function that cannot be a dependency: too few parameters, or a circular dependency."""


class IdempotencyCollisionError(Exception):
    """A trigger whose idempotency key another run holds: that run's id (no second run was started)."""

    def __init__(self, existing_run_external_id: str) -> None:
        super().__init__(f"a run already holds this idempotency key: {existing_run_external_id}")
        self.existing_run_external_id = existing_run_external_id

    def __reduce__(self) -> tuple[type, tuple[str]]:
        return (type(self), (self.existing_run_external_id,))


class BulkTriggerIdempotencyCollisionError(Exception):
    """Some runs of a bulk trigger collided on their idempotency keys; the others were started."""

    def __init__(
        self, successful_workflow_run_external_ids: list[str], collisions: list[IdempotencyCollisionError]
    ) -> None:
        super().__init__(f"{len(collisions)} of the runs collided on their idempotency keys")
        self.successful_workflow_run_external_ids = successful_workflow_run_external_ids
        self.collisions = collisions


class EvictionNotSupportedError(NonRetryableException):
    """An eviction policy was given to an engine that does not evict durable tasks."""

    def __init__(self, engine_version: str | None = None) -> None:
        version_info = f" (engine version: {engine_version})" if engine_version else ""
        super().__init__(
            f"Eviction policies require engine >= {MinEngineVersion.DURABLE_EVICTION.value}{version_info}. "
            "Please upgrade your Hatchet engine or remove the eviction policy from your task."
        )


class IllegalTaskOutputError(Exception):
    """A task returned something other than a dict, a Pydantic model, a dataclass or a falsy value."""


class LoopAlreadyRunningError(Exception):
    pass


class TaskRunError(Exception):
    """The wire format of a task's error: "<Type>: <message>\\n<traceback>" (+ a metadata line)."""

    def __init__(self, exc: str, exc_type: str, trace: str, task_run_external_id: str | None) -> None:
        super().__init__(exc)
        self.exc = exc
        self.exc_type = exc_type
        self.trace = trace
        self.task_run_external_id = task_run_external_id

    def __reduce__(self) -> tuple[type, tuple[str, str, str, str | None]]:
        return (type(self), (self.exc, self.exc_type, self.trace, self.task_run_external_id))

    def __str__(self) -> str:
        return self.serialize(include_metadata=False)

    def __repr__(self) -> str:
        return str(self)

    def serialize(self, include_metadata: bool) -> str:
        exc_type = self.exc_type.replace(": ", ":::")
        exc = self.exc.replace("\n", "\\\n")
        header = f"{exc_type}: {exc}" if exc_type and exc else f"{exc_type}{exc}"
        result = f"{header}\n{self.trace}" if header and self.trace else f"{header}{self.trace}"
        if result and include_metadata:
            meta = {TASK_RUN_ERROR_METADATA_KEY: {"task_run_external_id": self.task_run_external_id}}
            return result + "\n\n" + json.dumps(meta)
        return result

    @classmethod
    def deserialize(cls, serialized: str) -> TaskRunError:
        if not serialized:
            return cls("", "", "", None)
        external_id = None
        last = serialized.split("\n")[-1]
        try:
            meta = json.loads(last)
            if isinstance(meta, dict) and TASK_RUN_ERROR_METADATA_KEY in meta:
                external_id = meta[TASK_RUN_ERROR_METADATA_KEY].get("task_run_external_id")
                serialized = serialized[: -len(last)].strip()
        except json.JSONDecodeError:
            pass
        try:
            header, trace = serialized.split("\n", 1)
            exc_type, exc = header.split(": ", 1)
        except ValueError:
            return cls(serialized, "HatchetError", "", external_id)
        return cls(exc.replace("\\\n", "\n"), exc_type.replace(":::", ": "), trace, external_id)

    @classmethod
    def from_exception(cls, exc: BaseException, task_run_external_id: str | None) -> TaskRunError:
        trace = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return cls(str(exc), type(exc).__name__, trace, task_run_external_id)


class FailedTaskRunExceptionGroup(ValueError):
    def __init__(self, message: str, exceptions: list[TaskRunError]) -> None:
        super().__init__(message)
        self.message = message
        self.exceptions = exceptions

    def __reduce__(self) -> tuple[type, tuple[str, list[TaskRunError]]]:
        return (type(self), (self.message, self.exceptions))

    def __str__(self) -> str:
        lines = [self.message.strip()]
        for index, exc in enumerate(self.exceptions, 1):
            lines.append(f"\n--- Exception {index} ---")
            lines.append(str(exc))
        return "\n".join(lines)


class NonDeterminismError(Exception):
    """A durable task's replay asked, at a node of its log, for another wait or spawn than the one recorded there.
    Raised where the task awaits it (it may catch it); uncaught, it fails the task without a retry."""

    non_retryable = True

    def __init__(self, task_external_id: str, invocation_count: int, message: str, node_id: int) -> None:
        self.task_external_id = task_external_id
        self.invocation_count = invocation_count
        self.message = message
        self.node_id = node_id
        detail = message or (
            f"Non-determinism detected in task {task_external_id} on invocation {invocation_count} at node {node_id}"
        )
        super().__init__(detail)
