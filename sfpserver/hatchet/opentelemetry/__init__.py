"""OpenTelemetry for the SDK, at Hatchet's path: `from sfpserver.hatchet.opentelemetry.instrumentor import
HatchetInstrumentor`. Optional: it needs the `opentelemetry-api` and `opentelemetry-sdk` packages (the `otel` extra)."""
