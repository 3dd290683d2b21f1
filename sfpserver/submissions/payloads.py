"""Checks on the JSON a client sends as a task's data or metadata, before anything is recorded:
its encoded size, its nesting depth, characters Postgres cannot store in jsonb, and the task type's input model."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from pydantic import ValidationError

from sfpserver.submissions.exceptions import InvalidPayloadError, InvalidSubmissionError
from sfpserver.submissions.task_types import TaskType, input_model

MAX_DEPTH = 32


def check_json(field: str, value: Any) -> None:
    depth = _depth(value)
    if depth > MAX_DEPTH:
        raise InvalidSubmissionError(field, f"is nested {depth} levels deep; the limit is {MAX_DEPTH}")
    if _has_nul(value):
        raise InvalidSubmissionError(field, "contains a NUL character (\\u0000), which cannot be stored")
    size = len(json.dumps(value, separators=(",", ":")).encode())
    limit = settings.API_MAX_INPUT_BYTES
    if size > limit:
        raise InvalidSubmissionError(field, f"is {size} bytes once encoded; the limit is {limit}")


def _children(value: Any) -> list[Any]:
    if isinstance(value, dict):
        return [*value.keys(), *value.values()]
    if isinstance(value, (list, tuple)):
        return list(value)
    return []


def _depth(value: Any) -> int:
    deepest, frontier = 0, [(value, 1)]
    while frontier:
        item, level = frontier.pop()
        if isinstance(item, (dict, list, tuple)):
            deepest = max(deepest, level)
            if level <= MAX_DEPTH:
                frontier.extend((child, level + 1) for child in _children(item))
    return deepest


def _has_nul(value: Any) -> bool:
    frontier = [value]
    while frontier:
        item = frontier.pop()
        if isinstance(item, str) and "\x00" in item:
            return True
        frontier.extend(_children(item))
    return False


def check_data(found: TaskType, data: Any) -> None:
    """The type's own input model accepts `data` (validated as at trigger: credential names are checked against
    the vault); otherwise InvalidPayloadError naming each field at fault (`data.<field>`), never quoting it."""
    model = input_model(found)
    if model is None:
        return
    try:
        model.model_validate(data, context={"at_trigger": True})
    except ValidationError as exc:
        raise InvalidPayloadError({_field(error["loc"]): _problem(error["msg"]) for error in exc.errors()}) from None


def _field(loc: tuple[int | str, ...]) -> str:
    return ".".join(["data", *map(str, loc)])


def _problem(message: str) -> str:
    return message.removeprefix("Value error, ")
