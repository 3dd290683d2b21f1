"""The SDK's tracing hooks: off (one `None` check) until `HatchetInstrumentor().instrument()` hands them a tracer
(sfpserver/hatchet/opentelemetry/instrumentor.py), which then records a span per run trigger and per task attempt.

Spans carry Hatchet's attribute names (`hatchet.workflow_run_id`, `hatchet.step_run_id`, ...). A trigger puts its
span's W3C `traceparent` into the run's additional metadata, as Hatchet does, so that the span of each attempt of
the run's tasks is a child of it, wherever the worker runs. A leaf module: it imports no OpenTelemetry itself (the
instrumentor does, and gives it what it needs) and nothing of the SDK.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

PREFIX = "hatchet."
TRACEPARENT = "traceparent"


@dataclass
class Hooks:
    """What the instrumentor gives: its tracer, and how to write and read a span context in a carrier."""

    tracer: Any
    inject: Any  # (carrier: dict) -> None: the current span's traceparent into the carrier
    extract: Any  # (carrier: Mapping) -> an OpenTelemetry Context
    consumer_kind: Any
    producer_kind: Any
    error_status: Any  # (description) -> a Status of code ERROR


_hooks: Hooks | None = None


def install(hooks: Hooks | None) -> None:
    global _hooks
    _hooks = hooks


def enabled() -> bool:
    return _hooks is not None


def attributes(values: Mapping[str, Any]) -> dict[str, Any]:
    """Hatchet's `hatchet.<name>` attributes; values OpenTelemetry cannot take are given as text, None dropped."""
    found = {}
    for name, value in values.items():
        if value is None:
            continue
        found[PREFIX + name] = value if isinstance(value, (str, bool, int, float)) else str(value)
    return found


@contextlib.contextmanager
def trigger_span(name: str, metadata: dict[str, Any], values: Mapping[str, Any]) -> Iterator[Any]:
    """Around a trigger: a producer span; its traceparent goes into `metadata` (the run's additional metadata)."""
    hooks = _hooks
    if hooks is None:
        yield None
        return
    with hooks.tracer.start_as_current_span(name, attributes=attributes(values), kind=hooks.producer_kind) as span:
        hooks.inject(metadata)  # over a parent run's inherited one: a child run's attempts descend from this span
        yield span


@contextlib.contextmanager
def attempt_span(name: str, metadata: Mapping[str, Any], values: Mapping[str, Any]) -> Iterator[Any]:
    """Around one attempt of a task: a consumer span, a child of the trigger's span when the metadata carries it.
    An exception is recorded on it and goes on."""
    hooks = _hooks
    if hooks is None:
        yield None
        return
    parent = hooks.extract({TRACEPARENT: metadata[TRACEPARENT]}) if TRACEPARENT in metadata else None
    with hooks.tracer.start_as_current_span(
        name, context=parent, attributes=attributes(values), kind=hooks.consumer_kind, record_exception=False
    ) as span:
        try:
            yield span
        except BaseException as exc:
            span.record_exception(exc)
            span.set_status(hooks.error_status(f"{type(exc).__name__}: {exc}"))
            raise


def set_run_ids(span: Any, run_ids: list[str]) -> None:
    """On a trigger span, once the runs are recorded: their ids."""
    if span is None:
        return
    if len(run_ids) == 1:
        span.set_attribute(PREFIX + "workflow_run_id", run_ids[0])
    else:
        span.set_attribute(PREFIX + "workflow_run_ids", run_ids)
