"""The worker process of the OpenTelemetry test: instrumented as a Hatchet user instruments one, with the standard
OpenTelemetry SDK and an in-memory exporter (so that its spans can be read back through the `SdkSpans` task)."""

from __future__ import annotations

from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from sfpserver.hatchet.opentelemetry.instrumentor import HatchetInstrumentor
from tests.hatchet import otel_workflows


def main() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    HatchetInstrumentor(tracer_provider=provider, enable_hatchet_otel_collector=False).instrument()
    otel_workflows.EXPORTER = exporter
    otel_workflows.hatchet.worker("otel-test-worker", slots=2, workflows=otel_workflows.OTEL_WORKFLOWS).start()


if __name__ == "__main__":
    main()
