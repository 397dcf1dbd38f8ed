"""OpenTelemetry tracing. One change can be followed across services: the W3C
``traceparent`` travels in NATS headers (the bus and the outbox inject and extract it) and
in HTTP headers (the app factory's middleware extracts it; :func:`trace_headers` injects it
into outgoing calls). Spans go to OTLP/HTTP when an endpoint is configured, to stdout when
asked (``console``), or nowhere: the default, since printed spans swamped the logs."""
from __future__ import annotations

import sys
import threading

from opentelemetry import propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
)

_configured = threading.Lock()
_provider: TracerProvider | None = None


def setup_tracing(service: str, exporter: str = "console", otlp_endpoint: str | None = None,
                  extra: SpanExporter | None = None) -> TracerProvider:
    """Install the process's tracer provider once; later calls add nothing but ``extra``.
    (OpenTelemetry allows one global provider per process.)"""
    global _provider
    with _configured:
        if _provider is None:
            _provider = TracerProvider(resource=Resource.create({"service.name": service}))
            if exporter == "otlp" or otlp_endpoint:
                from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

                _provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=otlp_endpoint)))
            elif exporter == "console":
                _provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter(out=sys.stdout)))
            trace.set_tracer_provider(_provider)
        if extra is not None:
            from opentelemetry.sdk.trace.export import SimpleSpanProcessor

            _provider.add_span_processor(SimpleSpanProcessor(extra))
        return _provider


def current_trace_id() -> str | None:
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


def trace_headers() -> dict[str, str]:
    """Headers carrying the current trace context, for an outgoing HTTP call."""
    headers: dict[str, str] = {}
    propagate.inject(headers)
    return headers
