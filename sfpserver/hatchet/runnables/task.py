"""Hatchet's `hatchet_sdk.runnables.task` path: `Task`, and `Depends` (dependency injection).

`Depends` is plain data here, with Hatchet's constructor check (the dependency takes at least input and ctx)."""

from __future__ import annotations

import sfpserver.hatchet.ready  # noqa: F401  (sets Django up for a plain script)

# isort: split

from collections.abc import Callable
from inspect import signature
from typing import Any, Generic, TypeVar

from sfpserver.hatchet.exceptions import InvalidDependencyError
from sfpserver.hatchet.task import Task

T = TypeVar("T")


class Depends(Generic[T]):
    def __init__(self, fn: Callable[..., T]) -> None:
        if len(signature(fn).parameters) < 2:
            raise InvalidDependencyError(
                f"Dependency function {fn.__name__} must have at least two parameters: input and ctx. "
                "Additional parameters can be dependencies."
            )
        self._fn = fn

    @property
    def fn(self) -> Callable[..., Any]:
        return self._fn


__all__ = ["Depends", "Task"]
