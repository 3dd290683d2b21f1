"""The engine's exception tree. Interruptions derive from BaseException so user code cannot swallow them."""

from __future__ import annotations

from uuid import UUID


class EngineError(Exception):
    """Base of every error the engine raises on purpose."""


class InvalidWorkflowError(EngineError, ValueError):
    """A workflow definition or trigger request is refused. `field` names what is wrong."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.field, self.problem))


class UnknownWorkflowError(InvalidWorkflowError):
    def __init__(self, name: str) -> None:
        super().__init__("workflow", f"no workflow named {name!r} is registered")
        self.name = name

    def __reduce__(self) -> tuple[type, tuple[str]]:  # type: ignore[override]
        return (type(self), (self.name,))


class InvalidInputError(InvalidWorkflowError):
    """The input of a trigger failed the workflow's validator, or holds a value that cannot be stored
    (`field` then names it: `input.repository`)."""

    def __init__(self, problem: str, field: str = "input") -> None:
        super().__init__(field, problem)

    def __reduce__(self) -> tuple[type, tuple[str, str]]:
        return (type(self), (self.problem, self.field))


class RunNotFoundError(EngineError):
    pass


class IdempotencyCollision(EngineError):
    """Triggers whose idempotency keys other runs hold started nothing. `run_ids` is the answer of every request
    in order (the run it started, or None where it collided); `existing` maps the index of each collided request
    to the run that holds its key."""

    def __init__(self, run_ids: list[UUID | None], existing: dict[int, UUID]) -> None:
        held = ", ".join(str(run) for run in existing.values())
        super().__init__(f"a run already holds this idempotency key: {held}")
        self.run_ids = run_ids
        self.existing = existing

    def __reduce__(self) -> tuple[type, tuple[list[UUID | None], dict[int, UUID]]]:
        return (type(self), (self.run_ids, self.existing))


class InvalidStateError(EngineError):
    """The operation does not apply to the run or step in its current state."""


class NonRetryableError(Exception):
    """Raised by step code: fail this step now, without using its remaining retries."""


class StepInterrupted(BaseException):
    """Raised inside step code that must stop: the step was cancelled, timed out or reassigned."""


class DurableEvicted(BaseException):
    """Raised inside a durable task's code when its attempt left the slot at a wait (engine/durable.py): the
    attempt's outcome (EVICTED) is already recorded; the step's code must stop and nothing more is recorded.
    A BaseException, so that the task's own `except Exception` does not swallow it."""
