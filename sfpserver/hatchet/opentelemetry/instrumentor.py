"""`HatchetInstrumentor` (Hatchet's `hatchet_sdk.opentelemetry.instrumentor`): off by default; once instrumented,
a span per run trigger (`hatchet.run_workflow`, `hatchet.run_workflows` for a bulk trigger) and per task attempt
(`hatchet.start_step_run`), with the run and step ids as attributes, exported through the standard OpenTelemetry
SDK: to the span processors of the tracer provider given, else of the global one.

OpenTelemetry is an optional dependency (the project's `otel` extra: `opentelemetry-api`, `opentelemetry-sdk`): this
module imports it only when an instrumentor is made, and says how to install it when it is missing. There is no
Hatchet engine here to collect spans: `enable_hatchet_otel_collector` (true by default, as in Hatchet) only makes a
tracer provider when none is set, and warns that nothing is sent to an engine. A meter provider gets no metrics.
"""

from __future__ import annotations

from typing import Any

from sfpserver.hatchet import tracing
from sfpserver.hatchet.unsupported import unsupported

INSTALL_HINT = (
    "HatchetInstrumentor needs OpenTelemetry: install the project's `otel` extra "
    "(pip install 'opentelemetry-api' 'opentelemetry-sdk')"
)


class OpenTelemetryMissingError(ImportError):
    """OpenTelemetry is not installed, so nothing can be instrumented."""


def _otel() -> tuple[Any, Any, Any]:
    try:
        from opentelemetry import propagate, trace
        from opentelemetry.sdk import trace as sdk_trace
    except ImportError as exc:
        raise OpenTelemetryMissingError(f"{INSTALL_HINT}: {exc}") from exc
    return propagate, trace, sdk_trace


class HatchetInstrumentor:
    def __init__(
        self,
        tracer_provider: Any = None,
        meter_provider: Any = None,
        config: Any = None,
        enable_hatchet_otel_collector: bool = True,
        schedule_delay_millis: int | None = None,
        max_export_batch_size: int | None = None,
        max_queue_size: int | None = None,
    ) -> None:
        _, trace, sdk_trace = _otel()
        if enable_hatchet_otel_collector:
            unsupported("enable_hatchet_otel_collector", "HatchetInstrumentor")
        for name, given in (
            ("meter_provider", meter_provider),
            ("config", config),
            ("batch options", schedule_delay_millis or max_export_batch_size or max_queue_size),
        ):
            if given is not None:
                unsupported(name, "HatchetInstrumentor")
        self.tracer_provider = tracer_provider or self._global_provider(
            trace, sdk_trace, create=enable_hatchet_otel_collector
        )
        self.meter_provider = meter_provider
        self._instrumented = False

    @staticmethod
    def _global_provider(trace: Any, sdk_trace: Any, *, create: bool) -> Any:
        existing = trace.get_tracer_provider()
        if isinstance(existing, sdk_trace.TracerProvider) or not create:
            return existing
        provider = sdk_trace.TracerProvider()
        trace.set_tracer_provider(provider)
        return trace.get_tracer_provider()

    def instrument(self, **kwargs: Any) -> None:
        """Start recording spans (in this process: instrument in the worker's process and in the triggering one)."""
        propagate, trace, _ = _otel()
        tracer = trace.get_tracer(
            "sfpserver.hatchet", tracer_provider=kwargs.get("tracer_provider") or self.tracer_provider
        )
        tracing.install(
            tracing.Hooks(
                tracer=tracer,
                inject=propagate.inject,
                extract=propagate.extract,
                consumer_kind=trace.SpanKind.CONSUMER,
                producer_kind=trace.SpanKind.PRODUCER,
                error_status=lambda description: trace.Status(trace.StatusCode.ERROR, description),
            )
        )
        self._instrumented = True

    def uninstrument(self, **kwargs: Any) -> None:
        tracing.install(None)
        self._instrumented = False

    @property
    def is_instrumented_by_opentelemetry(self) -> bool:
        return self._instrumented

    def get_tracer_provider(self) -> Any:
        return self.tracer_provider

    def get_meter_provider(self) -> Any:
        return self.meter_provider
