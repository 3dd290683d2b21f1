"""Errors of the task service. The API maps each to one HTTP status and error code."""

from __future__ import annotations


class SubmissionError(Exception):
    """Base of the task service's errors."""


class InvalidSubmissionError(SubmissionError):
    """A request is refused; `field` names what is wrong (dotted for nested fields)."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field
        self.problem = problem


class InvalidPayloadError(InvalidSubmissionError):
    """A task's data fails its type's input model; `problems` maps each field at fault (`data.<field>`) to why."""

    def __init__(self, problems: dict[str, str]) -> None:
        field, problem = next(iter(problems.items()))
        super().__init__(field, problem)
        self.problems = problems


class TaskNotFoundError(SubmissionError):
    """No such task, or one the caller may not see (the two are not told apart)."""

    def __init__(self, operation_id: object) -> None:
        super().__init__(f"no task with operationId {operation_id}")


class TaskStateError(SubmissionError):
    """The operation does not apply to the task in its current state."""


class QuotaExceededError(SubmissionError):
    """The caller's token already holds as many of something as it may (the message names the limit)."""
