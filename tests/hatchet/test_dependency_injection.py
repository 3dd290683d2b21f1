"""Dependency injection (`Depends`) in task signatures, on a real worker: sync and async providers, providers that
take the input and context (and so the worker's lifespan), context managers exited after the task, for tasks,
sync tasks and durable tasks; and the same without a broker through mock_run."""

from __future__ import annotations

import asyncio
from typing import Annotated

import pytest

from sfpserver.hatchet import Context, Depends, EmptyModel, Hatchet
from sfpserver.hatchet.depends import InvalidDependencyError
from tests.hatchet import feature_workflows as fw

pytestmark = pytest.mark.usefixtures("sdk_worker")

EXPECTED = {
    "async_value": "async:ready",  # the lifespan's value, read by an async provider through ctx.lifespan
    "sync_cm": "cm(sync:{task})",  # a context manager whose provider has a dependency of its own
    "async_cm": "acm(async:ready)",
    "input_value": "ada",  # a provider reading the run's input
}


@pytest.mark.parametrize(
    ("task", "name"), [(fw.di_async, "diasync"), (fw.di_sync, "disync"), (fw.di_durable, "didurable")]
)
def test_a_task_is_given_what_its_sync_and_async_providers_return(task: object, name: str) -> None:
    result = task.run(EmptyModel(who="ada"))  # type: ignore[attr-defined]
    assert result == fw.Injected(sync_value=f"sync:{name}", **{k: v.format(task=name) for k, v in EXPECTED.items()})


def test_the_context_managers_a_provider_gives_are_exited_after_the_task() -> None:
    fw.di_async.run(EmptyModel(who="bob"))
    seen = fw.di_cleanup.run()["cleaned_up"]
    # exited last entered first, once per run of a task that asked for them
    assert seen[-2:] == ["async_resource", "sync_resource"]


def test_mock_run_resolves_dependencies_or_takes_them_as_given() -> None:
    resolved = asyncio.run(fw.di_async.aio_mock_run(EmptyModel(who="eve"), lifespan={"resource": "mocked"}))
    assert resolved.async_value == "async:mocked" and resolved.input_value == "eve"
    given = {"sync_value": "a", "async_value": "b", "sync_cm": "c", "async_cm": "d", "input_value": "e"}
    assert fw.di_sync.mock_run(dependencies=given) == fw.Injected(
        sync_value="a", async_value="b", sync_cm="c", async_cm="d", input_value="e"
    )


def test_a_provider_without_input_and_context_is_refused() -> None:
    def lonely(input: EmptyModel) -> str:
        return "x"

    with pytest.raises(InvalidDependencyError) as caught:
        Depends(lonely)
    assert str(caught.value) == (
        "Dependency function lonely must have at least two parameters: input and ctx. "
        "Additional parameters can be dependencies."
    )


def _looping(input: EmptyModel, ctx: Context, again: Annotated[str, Depends(_looping)]) -> str:
    return again  # its annotation names itself: resolved when the task runs, as Hatchet resolves it


def test_a_provider_that_depends_on_itself_fails_the_task_naming_the_chain(hatchet: Hatchet) -> None:
    @hatchet.task(name="DiCircular")
    def task(input: EmptyModel, ctx: Context, value: Annotated[str, Depends(_looping)]) -> dict[str, str]:
        return {"value": value}

    with pytest.raises(InvalidDependencyError) as caught:
        task.mock_run()
    assert str(caught.value) == (
        "Circular dependency detected: _looping is already being resolved. "
        "Dependency chain: test_a_provider_that_depends_on_itself_fails_the_task_naming_the_chain.<locals>.task"
        " -> _looping -> _looping"
    )


@pytest.fixture
def hatchet(db_access: None) -> Hatchet:
    return Hatchet()


class Depends2:
    """A `Depends` of the same shape from elsewhere (another copy of Hatchet's class)."""

    def __init__(self, fn: object) -> None:
        self._fn = fn


Depends2.__name__ = "Depends"


def test_a_depends_of_hatchets_shape_from_elsewhere_is_honoured_too(hatchet: Hatchet) -> None:
    @hatchet.task(name="DiForeign")
    def task(input: EmptyModel, ctx: Context, value: Annotated[str, Depends2(fw.sync_provider)]) -> dict[str, str]:
        return {"value": value}

    assert task.mock_run() == {"value": "sync:diforeign"}
