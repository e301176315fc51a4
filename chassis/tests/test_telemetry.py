"""Tracing: the apis' server spans, a consumer's span per event, the publish continuing the
event's trace; spans caught by the SDK's in-memory exporter."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
from fastapi import APIRouter
from fastapi.testclient import TestClient
from faststream.kafka import KafkaBroker, TestKafkaBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from chassis.consumer import Consumed
from chassis.kafka import EventPublisher, make_broker
from chassis.process import ServiceDefinition, create_app
from chassis.settings import ServiceSettings
from chassis.telemetry import (
    current_traceparent,
    event_trace,
    setup_tracing,
    traced_batches,
)
from contracts.envelope import CloudEvent, EventData

TRACE = "0af7651916cd43dd8448eb211c80319c"
PARENT = "b7ad6b7169203331"


class PingData(EventData):
    employee_id: str


class Ping(CloudEvent[PingData]):
    event_name: ClassVar[str] = "ping"
    topic: ClassVar[str] = "chorus.ping.v1"
    service: ClassVar[str] = "tests"
    key_field: ClassVar[str] = "employee_id"


def _ping(event_id: str, traceparent: str | None = None) -> Ping:
    return Ping.create(
        tenant_id="acme",
        subject="e1",
        data=PingData(employee_id="e1"),
        event_id=event_id,
        traceparent=traceparent,
    )


def _consumed(event: Ping, offset: int = 0) -> Consumed[Any]:
    return Consumed(event, Ping.topic, 0, offset)


@pytest.fixture
def exported() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
def provider(exported: InMemorySpanExporter) -> TracerProvider:
    return setup_tracing("tests", "worker", "", exporter=exported)


def _ids(traceparent: str) -> tuple[int, int]:
    _, trace_id, span_id, _ = traceparent.split("-")
    return int(trace_id, 16), int(span_id, 16)


# --------------------------------------------------------------------------- the apis


class _Settings(ServiceSettings):
    service: ClassVar[str] = "sample"
    default_api_port: ClassVar[int] = 8000
    default_worker_port: ClassVar[int] = 9000


def _api(endpoint: str) -> Any:
    routes = APIRouter()

    @routes.get("/api/v1/things/{thing}")
    async def thing(thing: str) -> dict[str, str | None]:
        # What a use case stamps on the events it creates.
        return {"traceparent": current_traceparent()}

    definition = ServiceDefinition(
        name="sample", settings_class=_Settings, setup=_no_setup, routers=lambda: [routes]
    )
    return create_app(definition, "api", _Settings(otlp_endpoint=endpoint))


async def _no_setup(runtime: object) -> None:
    return None


def test_a_request_is_a_server_span_and_what_it_creates_carries_it(
    provider: TracerProvider, exported: InMemorySpanExporter
) -> None:
    app = _api("http://127.0.0.1:4318")
    # The lifespan (not run here: no Kafka) sets the process's provider.
    app.state.tracing.provider = provider
    client = TestClient(app)
    for path in ("/healthz", "/metrics", "/readyz"):
        client.get(path)
    created = client.get("/api/v1/things/42").json()["traceparent"]

    spans = exported.get_finished_spans()
    assert [s.name for s in spans] == ["GET /api/v1/things/{thing}"]
    (span,) = spans
    assert span.kind is SpanKind.SERVER
    assert span.attributes is not None
    assert span.attributes.get("http.route") == "/api/v1/things/{thing}"
    assert span.resource.attributes["service.name"] == "chorus-tests"
    assert _ids(created) == (span.context.trace_id, span.context.span_id)


def test_a_request_continues_the_callers_trace(
    provider: TracerProvider, exported: InMemorySpanExporter
) -> None:
    app = _api("http://127.0.0.1:4318")
    app.state.tracing.provider = provider
    created = (
        TestClient(app)
        .get("/api/v1/things/1", headers={"traceparent": f"00-{TRACE}-{PARENT}-01"})
        .json()["traceparent"]
    )
    (span,) = exported.get_finished_spans()
    assert span.parent is not None and span.parent.span_id == int(PARENT, 16)
    assert created.startswith(f"00-{TRACE}-")


def test_without_an_endpoint_requests_are_not_traced() -> None:
    app = _api("")
    assert TestClient(app).get("/api/v1/things/1").json() == {"traceparent": None}


# --------------------------------------------------------------------------- consumers


async def test_each_event_is_handled_in_a_span_continuing_its_trace(
    provider: TracerProvider, exported: InMemorySpanExporter
) -> None:
    other_trace = "1" * 32
    events = [_ping("a", f"00-{TRACE}-{PARENT}-01"), _ping("b", f"00-{other_trace}-{'2' * 16}-01")]
    seen: list[Consumed[Any]] = []

    async def handler(batch: list[Consumed[Any]]) -> None:
        seen.extend(batch)

    tracer = provider.get_tracer("faststream")
    with tracer.start_as_current_span("chorus.ping.v1 process") as batch_span:
        await traced_batches(handler, "rewards", provider)(
            [_consumed(e, n) for n, e in enumerate(events)]
        )

    handled = {s.attributes["messaging.message.id"]: s for s in _named(exported, "handle")}
    assert set(handled) == {"a", "b"}
    first = handled["a"]
    assert first.kind is SpanKind.CONSUMER
    assert first.context.trace_id == int(TRACE, 16)
    assert first.parent is not None and first.parent.span_id == int(PARENT, 16)
    assert handled["b"].context.trace_id == int(other_trace, 16)
    assert first.attributes["messaging.consumer.group.name"] == "rewards"
    assert first.attributes["messaging.destination.name"] == "chorus.ping.v1"
    assert all(
        [link.context.span_id for link in s.links] == [batch_span.get_span_context().span_id]
        for s in handled.values()
    )
    # What the handler derives from an event continues under its handling.
    assert [_ids(c.event.traceparent) for c in seen] == [
        (handled[i].context.trace_id, handled[i].context.span_id) for i in ("a", "b")
    ]
    assert [(c.event.id, c.offset) for c in seen] == [("a", 0), ("b", 1)]


async def test_handled_again_the_events_derive_the_same_bytes(
    provider: TracerProvider, exported: InMemorySpanExporter
) -> None:
    seen: list[str] = []

    async def handler(batch: list[Consumed[Any]]) -> None:
        seen.extend(c.event.traceparent for c in batch)

    batch = [_consumed(_ping("a")), _consumed(_ping("b", f"00-{TRACE}-{PARENT}-01"))]
    await traced_batches(handler, "rewards", provider)(batch)
    await traced_batches(handler, "rewards", provider)(batch)  # redelivered after a crash
    await traced_batches(handler, "metrics", provider)(batch)
    rewards, again, metrics = seen[:2], seen[2:4], seen[4:]
    assert rewards == again
    # Without a trace of its own, an event is one trace for every consumer.
    assert _ids(rewards[0])[0] == _ids(metrics[0])[0]
    assert _ids(rewards[0])[1] != _ids(metrics[0])[1]
    assert _ids(rewards[1])[0] == int(TRACE, 16)


async def test_a_batch_of_one_event_runs_inside_its_span(
    provider: TracerProvider, exported: InMemorySpanExporter
) -> None:
    inside: list[str | None] = []

    async def handler(batch: list[Consumed[Any]]) -> None:
        inside.append(current_traceparent())
        assert inside[-1] == batch[0].event.traceparent

    await traced_batches(handler, "share", provider)([_consumed(_ping("a"))])
    assert inside[0] is not None


async def test_a_failed_batch_marks_every_span_and_fails(
    provider: TracerProvider, exported: InMemorySpanExporter
) -> None:
    async def handler(batch: list[Consumed[Any]]) -> None:
        raise ConnectionError("database away")

    with pytest.raises(ConnectionError):
        await traced_batches(handler, "rewards", provider)(
            [_consumed(_ping("a")), _consumed(_ping("b"), 1)]
        )
    spans = _named(exported, "handle")
    assert len(spans) == 2
    assert all(s.status.status_code is StatusCode.ERROR for s in spans)
    assert all(s.events[0].name == "exception" for s in spans)


def test_without_an_endpoint_the_handler_runs_as_it_is() -> None:
    async def handler(batch: list[Consumed[Any]]) -> None:
        return None

    assert traced_batches(handler, "rewards", setup_tracing("tests", "worker", "")) is handler
    assert traced_batches(handler, "rewards", trace.NoOpTracerProvider()) is handler


# --------------------------------------------------------------------------- publishing


def test_while_publishing_an_event_its_trace_is_the_current_one(provider: TracerProvider) -> None:
    tracer = provider.get_tracer("tests")
    with tracer.start_as_current_span("elsewhere"):
        with event_trace(_ping("a", f"00-{TRACE}-{PARENT}-01").to_json()):
            assert current_traceparent() == f"00-{TRACE}-{PARENT}-01"
        outside = current_traceparent()
        with event_trace(_ping("b").to_json()):  # no trace: the current one goes on
            assert current_traceparent() == outside


async def test_the_relays_publish_span_continues_the_events_trace(
    provider: TracerProvider, exported: InMemorySpanExporter
) -> None:
    broker: KafkaBroker = make_broker("127.0.0.1:9092", "tests", provider)
    value = _ping("a", f"00-{TRACE}-{PARENT}-01").to_json()
    async with TestKafkaBroker(broker) as fake:
        # As the relay does: no span of its own around the publish.
        await EventPublisher(fake).publish_raw(Ping.topic, "acme:e1", value)
    published = _named(exported, "publish")
    assert published, [s.name for s in exported.get_finished_spans()]
    assert all(s.context.trace_id == int(TRACE, 16) for s in published)


def _named(exported: InMemorySpanExporter, suffix: str) -> list[ReadableSpan]:
    return [s for s in exported.get_finished_spans() if s.name.endswith(f" {suffix}")]
