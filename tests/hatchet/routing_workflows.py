"""Workflows of the event filter and webhook tests, served by their own SDK worker (`python -m
tests.hatchet.routing_workflows`), as a Hatchet user would."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from sfpserver.hatchet import Context, DefaultFilter, EmptyModel, Hatchet

hatchet = Hatchet()

WORKER_NAME = "routing-test-worker"


class FilteredInput(BaseModel):
    should_skip: bool = False


filtered = hatchet.workflow(
    name="RoutingFiltered", on_events=["routing:filtered", "routing:second"], input_validator=FilteredInput
)


@filtered.task()
def echo_filter(input: FilteredInput, ctx: Context) -> dict[str, Any]:
    return {"filter_payload": ctx.filter_payload, "key": ctx.additional_metadata.get("hatchet__event_key")}


@hatchet.task(
    name="RoutingDeclared",
    on_events=["routing:declared"],
    default_filters=[DefaultFilter(expression="input.go == true", scope="declared-scope", payload={"who": "anna"})],
)
def declared(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return dict(ctx.filter_payload)


@hatchet.task(name="RoutingHook", on_events=["routing-hook:*"])
def hooked(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"input": input.model_dump(), "key": ctx.additional_metadata.get("hatchet__event_key")}


@hatchet.task(name="RoutingChildEcho")
def child_echo(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"filter_payload": ctx.filter_payload}


@hatchet.task(name="RoutingParent", on_events=["routing:parent"])
def parent(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"own": ctx.filter_payload, "child": child_echo.run()["filter_payload"]}


ALL = [filtered, declared, hooked, child_echo, parent]

if __name__ == "__main__":
    hatchet.worker(WORKER_NAME, slots=4, workflows=ALL).start()
