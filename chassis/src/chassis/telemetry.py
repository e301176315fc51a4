"""Tracing: one trace from an HTTP request through every event it causes.

- Each process has an OpenTelemetry tracer provider, exported over OTLP/HTTP when
  `OTEL_EXPORTER_OTLP_ENDPOINT` is set. Without one, tracing costs (almost) nothing: the
  apis are not instrumented, batch handlers are not wrapped, and FastStream's own spans are
  not sampled.
- The apis get a server span per request (`instrument_app`), so the events a request
  creates carry its `traceparent` in their envelope (`current_traceparent`).
- Publishing continues the trace the event carries (`event_trace`), also when the worker's
  relay publishes it long after the request.
- A consumer's handling of each event is a span whose parent is the event's `traceparent`
  (`traced_batches`), and the events the handler derives from it carry that span's.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import re
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar

from opentelemetry import context, trace
from opentelemetry.metrics import NoOpMeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.id_generator import RandomIdGenerator
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF
from opentelemetry.trace import Link, SpanKind, Status, StatusCode, TraceFlags
from opentelemetry.util import types
from opentelemetry.util._decorator import _agnosticcontextmanager

if TYPE_CHECKING:
    from fastapi import FastAPI

# The operations endpoints are polled every few seconds; a span each would drown the rest.
EXCLUDED_URLS = r"^https?://[^/]+/(healthz|readyz|metrics)/?$"

# In an encoded envelope the extension comes before `data`, so the first match is its own.
_ENVELOPE_TRACEPARENT = re.compile(
    rb'"traceparent":"([0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2})"'
)


# Set only around the start of a consumer's span of an event: see `_fixed_ids`.
_FIXED_IDS: ContextVar[tuple[int, int] | None] = ContextVar("chorus_fixed_ids", default=None)


class _HandlingIds(RandomIdGenerator):
    """Random ids, except for the span of a consumer's handling of an event: that one is
    derived from the consumer group and the event id (`_fixed_ids`), so a batch handled
    again after a crash derives events with the very same bytes."""

    def generate_trace_id(self) -> int:
        fixed = _FIXED_IDS.get()
        return fixed[0] if fixed else super().generate_trace_id()

    def generate_span_id(self) -> int:
        fixed = _FIXED_IDS.get()
        return fixed[1] if fixed else super().generate_span_id()

    def is_trace_id_random(self) -> bool:
        return _FIXED_IDS.get() is None


def setup_tracing(
    service: str, role: str, otlp_endpoint: str, exporter: SpanExporter | None = None
) -> TracerProvider:
    """The process's tracer provider: spans go to `otlp_endpoint` (OTLP/HTTP) or to
    `exporter` (tests); with neither, nothing is sampled."""
    enabled = bool(otlp_endpoint) or exporter is not None
    provider = TracerProvider(
        resource=Resource.create(
            {
                "service.name": f"chorus-{service}",
                "service.namespace": "chorus",
                "chorus.role": role,
            }
        ),
        id_generator=_HandlingIds(),
        # None: the SDK's default, or OTEL_TRACES_SAMPLER when set.
        sampler=None if enabled else ALWAYS_OFF,
    )
    if otlp_endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        endpoint = otlp_endpoint.rstrip("/") + "/v1/traces"
        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter(endpoint=endpoint)))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def recording(provider: trace.TracerProvider) -> bool:
    """Whether `provider` may record spans at all (an SDK provider that samples)."""
    return isinstance(provider, TracerProvider) and provider.sampler is not ALWAYS_OFF


class LateTracerProvider(trace.TracerProvider):
    """Tracers handed out now that use the provider set in `provider` later.

    The HTTP middleware takes its tracer when the app is built, before the lifespan creates
    the process's provider; a lifespan run again (tests do) sets a fresh provider after the
    old one was shut down."""

    def __init__(self) -> None:
        self.provider: trace.TracerProvider = trace.NoOpTracerProvider()

    def get_tracer(
        self,
        instrumenting_module_name: str,
        instrumenting_library_version: str | None = None,
        schema_url: str | None = None,
        attributes: types.Attributes | None = None,
    ) -> trace.Tracer:
        return _LateTracer(
            self, instrumenting_module_name, instrumenting_library_version, schema_url, attributes
        )


class _LateTracer(trace.Tracer):
    def __init__(self, owner: LateTracerProvider, *args: Any) -> None:
        self._owner = owner
        self._args = args
        self._for: trace.TracerProvider | None = None
        self._tracer: trace.Tracer = trace.NoOpTracer()

    def _current(self) -> trace.Tracer:
        provider = self._owner.provider
        if provider is not self._for:
            self._for, self._tracer = provider, provider.get_tracer(*self._args)
        return self._tracer

    def start_span(self, *args: Any, **kwargs: Any) -> trace.Span:
        return self._current().start_span(*args, **kwargs)

    @_agnosticcontextmanager
    def start_as_current_span(self, *args: Any, **kwargs: Any) -> Iterator[trace.Span]:
        with self._current().start_as_current_span(*args, **kwargs) as span:
            yield span


def instrument_app(app: FastAPI, tracer_provider: trace.TracerProvider) -> None:
    """A server span for every request but the operations endpoints (`EXCLUDED_URLS`); an
    incoming `traceparent` header is continued."""
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=tracer_provider,
        # Request metrics are the chassis' own (Prometheus, chassis.health).
        meter_provider=NoOpMeterProvider(),
        excluded_urls=EXCLUDED_URLS,
        # A span per ASGI message sent or received says nothing a reader needs.
        exclude_spans=["receive", "send"],
    )


def _traceparent(span_context: trace.SpanContext) -> str:
    return (
        f"00-{span_context.trace_id:032x}-{span_context.span_id:016x}"
        f"-{int(span_context.trace_flags):02x}"
    )


def current_traceparent() -> str | None:
    """The W3C traceparent of the current span, to carry in an event envelope."""
    span_context = trace.get_current_span().get_span_context()
    return _traceparent(span_context) if span_context.is_valid else None


def _parent(traceparent: str | None, base: context.Context | None = None) -> context.Context:
    """`base` (default: an empty context) whose span is the remote one `traceparent` names."""
    base = context.Context() if base is None else base
    if traceparent is None:
        return base
    # The envelope's pattern has been checked: version, trace id, parent id and flags.
    _, trace_id, span_id, flags = traceparent.split("-")
    remote = trace.SpanContext(
        int(trace_id, 16), int(span_id, 16), is_remote=True, trace_flags=TraceFlags(int(flags, 16))
    )
    return trace.set_span_in_context(trace.NonRecordingSpan(remote), base)


@contextlib.contextmanager
def event_trace(value: bytes) -> Iterator[None]:
    """While publishing the encoded event `value`: the trace it carries is the current one,
    so the publish span continues it (the relay publishes outside any request)."""
    match = _ENVELOPE_TRACEPARENT.search(value)
    if match is None:
        yield
        return
    token = context.attach(_parent(match.group(1).decode(), context.get_current()))
    try:
        yield
    finally:
        context.detach(token)


def _fixed_ids(group: str, event_id: str) -> tuple[int, int]:
    """Trace id (used only when the event carries no trace) and span id of `group`'s
    handling of the event; never zero, as W3C requires."""
    digest = hashlib.sha256(f"{group}\x1f{event_id}".encode()).digest()
    trace_id = int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:16]) or 1
    return trace_id, int.from_bytes(digest[:8]) or 1


class Handled(Protocol):
    """What a batch handler gets per event (`chassis.consumer.Consumed`, a dataclass)."""

    @property
    def event(self) -> Any: ...
    @property
    def topic(self) -> str: ...
    @property
    def partition(self) -> int: ...
    @property
    def offset(self) -> int: ...


C = TypeVar("C", bound=Handled)


def traced_batches(
    handler: Callable[[list[C]], Awaitable[None]],
    group: str,
    tracer_provider: trace.TracerProvider,
) -> Callable[[list[C]], Awaitable[None]]:
    """`handler`, for `chassis.consumer.subscribe_batch`, with one span per event it handles.

    Each span (`<topic> handle`) is a child of the event's `traceparent`, so the trace
    that created the event shows every consumer's handling of it; an event that carries
    no trace starts one named after its id, the same for every consumer. The spans last
    as long as the batch (its events are handled together and written in bulk) and link
    to FastStream's span of the batch, which links to the publishes. The handler sees
    each event with the `traceparent` of its span, so what it derives from the event
    (rewards' points) continues the trace under its handling. That span's id is derived
    from the group and the event id: handled again after a crash, a batch derives the
    same bytes.

    For a batch of one event its span is the current one while the handler runs; for
    more, FastStream's batch span stays current.
    """
    if not recording(tracer_provider):
        return handler
    tracer = tracer_provider.get_tracer(__name__)

    def start(item: C, links: Sequence[Link]) -> trace.Span:
        event = item.event
        token = _FIXED_IDS.set(_fixed_ids(group, event.id))
        try:
            return tracer.start_span(
                f"{item.topic} handle",
                context=_parent(event.traceparent),
                kind=SpanKind.CONSUMER,
                links=links,
                attributes={
                    "messaging.system": "kafka",
                    "messaging.operation.type": "process",
                    "messaging.destination.name": item.topic,
                    "messaging.destination.partition.id": str(item.partition),
                    "messaging.kafka.offset": item.offset,
                    "messaging.consumer.group.name": group,
                    "messaging.message.id": event.id,
                    "cloudevents.event_type": event.type,
                    "chorus.tenant": event.tenantid,
                },
            )
        finally:
            _FIXED_IDS.reset(token)

    async def traced(batch: list[C]) -> None:
        batch_span = trace.get_current_span().get_span_context()
        links = [Link(batch_span)] if batch_span.is_valid else []
        spans = [start(item, links) for item in batch]
        seen: list[C] = [
            dataclasses.replace(  # type: ignore[type-var]
                item,
                event=item.event.model_copy(
                    update={"traceparent": _traceparent(span.get_span_context())}
                ),
            )
            for item, span in zip(batch, spans, strict=True)
        ]
        try:
            if len(spans) == 1:
                with trace.use_span(spans[0], end_on_exit=False):
                    await handler(seen)
            else:
                await handler(seen)
        except BaseException as exc:
            for span in spans:
                span.record_exception(exc)
                span.set_status(Status(StatusCode.ERROR, f"{type(exc).__name__}: {exc}"))
            raise
        finally:
            for span in spans:
                span.end()

    return traced
