"""Dependency injection (Hatchet's `Depends`): a task parameter annotated `Annotated[X, Depends(provider)]` gets
what `provider(input, ctx, ...)` gives, resolved afresh for every call of the task.

A provider takes the task's input and context first (so `ctx.lifespan` reaches the worker's lifespan value),
may itself ask for dependencies the same way, and may be sync or async, and may return a context manager (sync
or async), which is entered before the task runs and exited after it ends, last entered first exited, whatever
the outcome. A provider that depends on itself, directly or not, is refused with `InvalidDependencyError`. It
imports nothing of the SDK but its exceptions.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from contextlib import AsyncExitStack
from typing import Annotated, Any, Generic, TypeVar, get_args, get_origin

from sfpserver.hatchet.exceptions import InvalidDependencyError

T = TypeVar("T")
TInput = TypeVar("TInput")


class Depends(Generic[T, TInput]):
    """Marks a parameter as given by `fn(input, ctx, **its own dependencies)`."""

    def __init__(self, fn: Callable[..., Any]) -> None:
        if len(inspect.signature(fn).parameters) < 2:
            raise InvalidDependencyError(
                f"Dependency function {fn.__name__} must have at least two parameters: input and ctx. "
                "Additional parameters can be dependencies."
            )
        self._fn = fn

    @property
    def fn(self) -> Callable[..., Any]:
        return self._fn

    def __repr__(self) -> str:
        return f"Depends({getattr(self._fn, '__name__', self._fn)!r})"


def dependencies_of(fn: Callable[..., Any]) -> dict[str, Any]:
    """The parameters of `fn` after (input, ctx) that ask for a dependency, by name, in order."""
    try:
        parameters = list(inspect.signature(fn, eval_str=True).parameters.values())
    except (NameError, TypeError):  # an annotation that does not resolve: read them as written
        parameters = list(inspect.signature(fn).parameters.values())
    found = {}
    for parameter in parameters[2:]:
        marker = _marker(parameter.annotation)
        if marker is not None:
            found[parameter.name] = marker
    return found


def _marker(annotation: Any) -> Any:
    value = getattr(annotation, "__value__", None)  # a `type X = ...` alias (TypeAliasType)
    if value is not None and not isinstance(annotation, type):
        annotation = value
    if get_origin(annotation) is not Annotated:
        return None
    return next((item for item in get_args(annotation)[1:] if _is_marker(item)), None)


def _is_marker(item: Any) -> bool:
    """A `Depends`: this one, or one of the same shape (Hatchet's name, holding its provider as `_fn`)."""
    return isinstance(item, Depends) or (type(item).__name__ == "Depends" and callable(getattr(item, "_fn", None)))


async def resolve(
    fn: Callable[..., Any], input: Any, ctx: Any, stack: AsyncExitStack, chain: tuple[str, ...] = ()
) -> dict[str, Any]:
    """The dependencies of `fn`, as keyword arguments; context managers are entered on `stack`."""
    name = getattr(fn, "__qualname__", repr(fn))
    if name in chain:
        raise InvalidDependencyError(
            f"Circular dependency detected: {name} is already being resolved. "
            f"Dependency chain: {' -> '.join((*chain, name))}"
        )
    values = {}
    for parameter, marker in dependencies_of(fn).items():
        values[parameter] = await _provide(marker._fn, input, ctx, stack, (*chain, name))
    return values


async def _provide(
    provider: Callable[..., Any], input: Any, ctx: Any, stack: AsyncExitStack, chain: tuple[str, ...]
) -> Any:
    own = await resolve(provider, input, ctx, stack, chain)
    value = provider(input, ctx, **own)
    if inspect.isawaitable(value):
        value = await value
    if hasattr(value, "__aenter__") and hasattr(value, "__aexit__"):
        return await stack.enter_async_context(value)
    if hasattr(value, "__enter__") and hasattr(value, "__exit__"):
        return stack.enter_context(value)
    return value


__all__ = ["Depends", "InvalidDependencyError", "dependencies_of", "resolve"]
