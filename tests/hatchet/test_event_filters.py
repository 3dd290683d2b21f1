"""Event filters and scopes, driven as a Hatchet user drives them: `hatchet.filters`, `default_filters`,
`event.push(scope=...)`, and a worker process serving tests/hatchet/routing_workflows.py.

Runs an event starts are recorded by the push itself (in its transaction), so "started nothing" is read right
after the push; the worker proves what a started run saw (`ctx.filter_payload`)."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest

from sfpserver.engine.models import WorkflowRun
from sfpserver.hatchet.event_errors import FilterNotFound, InvalidRoutingInput
from sfpserver.hatchet.models import EventFilter
from sfpserver.hatchet.rest_models import V1Filter, V1UpdateFilterRequest
from tests.hatchet import routing_workflows as wf

pytestmark = pytest.mark.usefixtures("routing_worker")


@pytest.fixture
def scope() -> Iterator[str]:
    """A scope of this test's own; the filters it made are gone afterwards (so other tests see none)."""
    value = f"scope-{uuid4()}"
    yield value
    EventFilter.objects.filter(workflow_name=wf.filtered.name).delete()


def runs_of(event_id: str) -> list[WorkflowRun]:
    return list(
        WorkflowRun.objects.filter(additional_metadata__contains={"hatchet__event_id": event_id}).order_by("created_at")
    )


def outputs(event_id: str) -> list[Any]:
    return [wf.hatchet.runs.get_run_ref(str(run.id)).result()["echo_filter"] for run in runs_of(event_id)]


def push(key: str, payload: dict[str, Any], scope: str | None = None) -> str:
    return wf.hatchet.event.push(key, payload, scope=scope).event_id


def test_a_workflow_without_filters_is_started_by_every_event_of_its_keys() -> None:
    event_id = push("routing:filtered", {"should_skip": True})
    assert outputs(event_id) == [{"filter_payload": {}, "key": "routing:filtered"}]


def test_once_a_workflow_has_filters_only_a_passing_filter_in_the_events_scope_starts_it(scope: str) -> None:
    wf.hatchet.filters.create(wf.filtered.id, "input.should_skip == false", scope, {"team": "core"})
    skipped = push("routing:filtered", {"should_skip": True}, scope)
    unscoped = push("routing:filtered", {"should_skip": False})
    other_scope = push("routing:filtered", {"should_skip": False}, f"{scope}-other")
    passing = push("routing:filtered", {"should_skip": False}, scope)
    assert (runs_of(skipped), runs_of(unscoped), runs_of(other_scope)) == ([], [], [])
    assert outputs(passing) == [{"filter_payload": {"team": "core"}, "key": "routing:filtered"}]


def test_each_passing_filter_starts_a_run_of_its_own_with_its_payload(scope: str) -> None:
    wf.hatchet.filters.create(wf.filtered.id, "1 == 1", scope, {"filter_id": "1"})
    wf.hatchet.filters.create(wf.filtered.id, "2 == 3", scope, {"filter_id": "2"})
    wf.hatchet.filters.create(wf.filtered.id, "true", scope, {"filter_id": "3"})
    event_id = push("routing:filtered", {}, scope)
    assert sorted(o["filter_payload"]["filter_id"] for o in outputs(event_id)) == ["1", "3"]


def test_an_expression_sees_the_event_key_and_the_filters_own_payload(scope: str) -> None:
    wf.hatchet.filters.create(wf.filtered.id, "event_key == 'routing:second' && payload.k == 'v'", scope, {"k": "v"})
    first = push("routing:filtered", {}, scope)
    second = push("routing:second", {}, scope)
    assert (runs_of(first), [o["key"] for o in outputs(second)]) == ([], ["routing:second"])


def test_an_expression_that_cannot_evaluate_counts_as_false(scope: str) -> None:
    wf.hatchet.filters.create(wf.filtered.id, "input.missing == 'x'", scope)
    assert runs_of(push("routing:filtered", {}, scope)) == []


def test_a_default_filter_is_stored_as_declarative_when_the_worker_registers_the_workflow() -> None:
    listed = wf.hatchet.filters.list(workflow_ids=[wf.declared.id]).rows or []
    assert [(f.scope, f.expression, f.payload, f.is_declarative) for f in listed] == [
        ("declared-scope", "input.go == true", {"who": "anna"}, True)
    ]
    passing = push("routing:declared", {"go": True}, "declared-scope")
    failing = push("routing:declared", {"go": False}, "declared-scope")
    result = wf.hatchet.runs.get_run_ref(str(runs_of(passing)[0].id)).result()
    assert (result, runs_of(failing)) == ({"routingdeclared": {"who": "anna"}}, [])


def test_a_child_of_a_filtered_run_does_not_inherit_its_filter_payload() -> None:
    scope = f"scope-{uuid4()}"
    created = wf.hatchet.filters.create(wf.parent.id, "true", scope, {"team": "core"})
    try:
        run = runs_of(push("routing:parent", {}, scope))[0]
        result = wf.hatchet.runs.get_run_ref(str(run.id)).result()
    finally:
        wf.hatchet.filters.delete(created.metadata.id)
    assert result == {"routingparent": {"own": {"team": "core"}, "child": {}}}


def test_the_filters_client_creates_reads_updates_lists_and_deletes(scope: str) -> None:
    created = wf.hatchet.filters.create(wf.filtered.id, "true", scope, {"a": 1})
    assert isinstance(created, V1Filter) and created.workflow_id == wf.filtered.id
    assert wf.hatchet.filters.get(created.metadata.id) == created
    updated = wf.hatchet.filters.update(
        created.metadata.id, V1UpdateFilterRequest(expression="false", payload={"b": 2})
    )
    assert (updated.expression, updated.payload, updated.scope) == ("false", {"b": 2}, scope)
    assert [f.metadata.id for f in wf.hatchet.filters.list(scopes=[scope]).rows or []] == [created.metadata.id]
    assert wf.hatchet.filters.delete(created.metadata.id).metadata.id == created.metadata.id
    with pytest.raises(FilterNotFound):
        wf.hatchet.filters.get(created.metadata.id)


def test_the_filters_client_has_async_twins(scope: str) -> None:
    async def roundtrip() -> tuple[Any, ...]:
        made = await wf.hatchet.filters.aio_create(wf.filtered.id, "true", scope)
        got = await wf.hatchet.filters.aio_get(made.metadata.id)
        changed = await wf.hatchet.filters.aio_update(made.metadata.id, V1UpdateFilterRequest(scope=f"{scope}-2"))
        listed = await wf.hatchet.filters.aio_list(scopes=[f"{scope}-2"])
        gone = await wf.hatchet.filters.aio_delete(made.metadata.id)
        return got.expression, changed.scope, len(listed.rows or []), gone.metadata.id == made.metadata.id

    assert asyncio.run(roundtrip()) == ("true", f"{scope}-2", 1, True)


@pytest.mark.parametrize(
    ("arguments", "field", "problem"),
    [
        ((wf.filtered.id, "input.x ==", "s"), "expression", "cannot parse expression 'input.x =='"),
        ((wf.filtered.id, "secret.x == 1", "s"), "expression", "unknown variable 'secret'"),
        ((wf.filtered.id, "true", ""), "scope", "must be a non-empty string"),
        (("NoSuchWorkflow", "true", "s"), "workflowId", "no workflow named 'NoSuchWorkflow' is registered"),
    ],
)
def test_bad_filter_input_is_refused_naming_the_field(
    arguments: tuple[str, str, str], field: str, problem: str
) -> None:
    with pytest.raises(InvalidRoutingInput) as caught:
        wf.hatchet.filters.create(*arguments)
    assert (caught.value.field, caught.value.problem.startswith(problem)) == (field, True)
    assert not EventFilter.objects.filter(scope=arguments[2]).exists()
