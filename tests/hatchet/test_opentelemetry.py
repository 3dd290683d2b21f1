"""OpenTelemetry (`HatchetInstrumentor`): off by default; once instrumented, a span per run trigger and per task
attempt, with the run and step ids as attributes, exported through the standard OTel SDK (in-memory exporters here:
the test's own, and the instrumented worker's, read back through a task), the attempt's span a child of the
trigger's. The instrumentation tests need the optional `opentelemetry-sdk` package and are skipped without it."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import pytest

from sfpserver.engine.models import StepRun
from sfpserver.hatchet import EmptyModel, FailedTaskRunExceptionGroup, tracing
from tests.conftest import ROOT, Processes
from workers.lifeline import die_with_parent

HAS_OTEL = importlib.util.find_spec("opentelemetry") is not None and (
    importlib.util.find_spec("opentelemetry.sdk") is not None
)
needs_otel = pytest.mark.skipif(
    not HAS_OTEL, reason="opentelemetry-api/-sdk (the optional `otel` extra) are not installed"
)


def test_tracing_is_off_by_default(db_access: None) -> None:
    from tests.hatchet import otel_workflows as ow

    assert not tracing.enabled()
    metadata: dict[str, str] = {}
    with tracing.trigger_span("hatchet.run_workflow", metadata, {"workflow_name": "x"}) as span:
        assert span is None
    assert metadata == {}
    assert ow.traced.mock_run() == {"ok": True}


def test_without_opentelemetry_instrumenting_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    from sfpserver.hatchet.opentelemetry import instrumentor

    for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "opentelemetry", None)  # what an absent package looks like to import
    with pytest.raises(instrumentor.OpenTelemetryMissingError) as caught:
        instrumentor.HatchetInstrumentor()
    assert str(caught.value).startswith(
        "HatchetInstrumentor needs OpenTelemetry: install the project's `otel` extra "
        "(pip install 'opentelemetry-api' 'opentelemetry-sdk')"
    )
    assert not tracing.enabled()


@pytest.fixture(scope="module")
def otel_worker(platform: Processes) -> Iterator[None]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "tests.hatchet.otel_worker"],
        cwd=ROOT,
        env=platform.env(),
        start_new_session=True,
        preexec_fn=die_with_parent,
    )
    platform.procs["otel-worker"] = proc
    yield
    platform.stop("otel-worker")


@pytest.fixture
def exported() -> Iterator[Any]:
    """This process instrumented, its spans kept in memory; uninstrumented afterwards."""
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from sfpserver.hatchet.opentelemetry.instrumentor import HatchetInstrumentor

    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    instrumentor = HatchetInstrumentor(tracer_provider=provider, enable_hatchet_otel_collector=False)
    instrumentor.instrument()
    yield exporter
    instrumentor.uninstrument()


def worker_spans(run_id: str) -> list[dict[str, Any]]:
    from tests.hatchet import otel_workflows as ow

    spans = ow.finished_spans.run()["spans"]
    return [s for s in spans if s["attributes"].get("hatchet.workflow_run_id") == run_id]


@needs_otel
@pytest.mark.usefixtures("otel_worker")
def test_a_trigger_and_each_attempt_export_spans_with_the_run_and_step_ids(exported: Any) -> None:
    from tests.hatchet import otel_workflows as ow

    ref = ow.traced.run(wait_for_result=False)
    assert ref.result() == {"ok": True}
    (trigger,) = [s for s in exported.get_finished_spans() if s.name == "hatchet.run_workflow"]
    assert trigger.attributes["hatchet.workflow_run_id"] == ref.workflow_run_id
    assert trigger.attributes["hatchet.workflow_name"] == "SdkTraced"
    assert trigger.kind.name == "PRODUCER"

    (attempt,) = worker_spans(ref.workflow_run_id)
    step = StepRun.objects.get(run_id=ref.workflow_run_id)
    assert attempt["name"] == "hatchet.start_step_run"
    assert attempt["kind"] == "CONSUMER"
    assert {k: attempt["attributes"][k] for k in ("hatchet.step_run_id", "hatchet.retry_count")} == {
        "hatchet.step_run_id": str(step.id),
        "hatchet.retry_count": 0,
    }
    assert attempt["trace_id"] == format(trigger.context.trace_id, "032x")
    assert attempt["parent_span_id"] == format(trigger.context.span_id, "016x")


@needs_otel
@pytest.mark.usefixtures("otel_worker")
def test_a_failed_attempt_exports_an_error_span_and_its_retry_one_of_its_own(exported: Any) -> None:
    from tests.hatchet import otel_workflows as ow

    ref = ow.traced_fails.run(EmptyModel(), wait_for_result=False)
    with pytest.raises(FailedTaskRunExceptionGroup):
        ref.result()
    attempts = sorted(worker_spans(ref.workflow_run_id), key=lambda s: s["attributes"]["hatchet.retry_count"])
    assert [(s["attributes"]["hatchet.retry_count"], s["status"]) for s in attempts] == [(0, "ERROR"), (1, "ERROR")]
