"""Workflows of the OpenTelemetry test, served by tests/hatchet/otel_worker.py: a worker instrumented with an
in-memory span exporter, whose `SdkSpans` task answers with the spans that worker process finished so far."""

from __future__ import annotations

from typing import Any

from sfpserver.hatchet import Context, EmptyModel, Hatchet

hatchet = Hatchet()

EXPORTER: Any = None  # the worker's InMemorySpanExporter (otel_worker.main sets it)


@hatchet.task(name="SdkTraced")
def traced(input: EmptyModel, ctx: Context) -> dict[str, bool]:
    return {"ok": True}


@hatchet.task(name="SdkTracedFails", retries=1)
def traced_fails(input: EmptyModel, ctx: Context) -> dict[str, bool]:
    raise ValueError("boom")


@hatchet.task(name="SdkSpans")
def finished_spans(input: EmptyModel, ctx: Context) -> dict[str, Any]:
    return {"spans": [_as_dict(span) for span in EXPORTER.get_finished_spans()]}


def _as_dict(span: Any) -> dict[str, Any]:
    return {
        "name": span.name,
        "trace_id": format(span.context.trace_id, "032x"),
        "span_id": format(span.context.span_id, "016x"),
        "parent_span_id": format(span.parent.span_id, "016x") if span.parent else None,
        "attributes": dict(span.attributes or {}),
        "status": span.status.status_code.name,
        "kind": span.kind.name,
    }


OTEL_WORKFLOWS = [traced, traced_fails, finished_spans]
