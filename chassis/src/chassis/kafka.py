"""Kafka: the broker factory, topic creation, the event publisher and the readiness probe."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Iterable, Sequence
from typing import Any

import stamina
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from faststream.kafka.opentelemetry import KafkaTelemetryMiddleware
from faststream.kafka.prometheus import KafkaPrometheusMiddleware
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity, SASLScram256, SASLScram512
from opentelemetry.trace import TracerProvider
from prometheus_client import REGISTRY

from chassis.settings import ServiceSettings
from chassis.telemetry import event_trace
from contracts import CONTENT_TYPE, AnyEvent, dlq_topic

log = logging.getLogger(__name__)

_TOPIC_ALREADY_EXISTS = 36


def kafka_security(settings: ServiceSettings) -> BaseSecurity | None:
    """How the process signs in to Kafka, for the FastStream broker; FastStream
    (`faststream.kafka.security.parse_security`) turns it into the keywords of aiokafka's
    own clients. None: it does not."""
    protocol = settings.kafka_security_protocol
    if protocol == "PLAINTEXT":
        return None
    context = None
    if protocol == "SASL_SSL":
        context = ssl.create_default_context(cafile=settings.kafka_ssl_cafile or None)
    scram = SASLScram512 if settings.kafka_sasl_mechanism == "SCRAM-SHA-512" else SASLScram256
    return scram(
        settings.kafka_sasl_username,
        settings.kafka_sasl_password,
        ssl_context=context,
        use_ssl=protocol == "SASL_SSL",
    )


def make_broker(
    bootstrap_servers: str,
    service: str,
    tracer_provider: TracerProvider | None = None,
    security: BaseSecurity | None = None,
) -> KafkaBroker:
    """A FastStream broker whose producer never loses or duplicates an acknowledged send."""
    return KafkaBroker(
        bootstrap_servers.split(","),
        client_id=f"chorus-{service}",
        security=security,
        # acks=all + idempotence: a send is acknowledged only once every in-sync replica has
        # it, and producer retries cannot write it twice.
        acks="all",
        enable_idempotence=True,
        middlewares=(
            KafkaTelemetryMiddleware(tracer_provider=tracer_provider),
            KafkaPrometheusMiddleware(
                registry=REGISTRY, app_name=service, metrics_prefix="chorus_kafka"
            ),
        ),
        logger=logging.getLogger(f"chorus.{service}.kafka"),
    )


def with_dead_letters(topics: Iterable[str]) -> list[str]:
    return sorted({t for topic in topics for t in (topic, dlq_topic(topic))})


class TopicCreationFailed(RuntimeError):
    """Kafka answered and refused to create a topic: waiting does not help."""


async def ensure_topics(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int,
    replication: int,
    wait_seconds: float = 60.0,
    security: BaseSecurity | None = None,
) -> None:
    """Create `topics` and their dead-letter twins if missing, waiting for Kafka to answer
    (up to `wait_seconds`, trying again with exponential backoff and jitter)."""
    names = with_dead_letters(topics)
    if not names:
        return
    async for attempt in stamina.retry_context(
        on=lambda error: not isinstance(error, TopicCreationFailed),
        attempts=None,
        timeout=wait_seconds,
        wait_initial=0.2,
        wait_max=5.0,
    ):
        with attempt:
            await _create_missing(bootstrap_servers, names, partitions, replication, security)


async def _create_missing(
    bootstrap_servers: str,
    names: Sequence[str],
    partitions: int,
    replication: int,
    security: BaseSecurity | None,
) -> None:
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers.split(","), **parse_security(security)
    )
    try:
        await admin.start()
        existing = set(await admin.list_topics())
        missing = [n for n in names if n not in existing]
        if missing:
            response = await admin.create_topics(
                [NewTopic(n, partitions, replication) for n in missing]
            )
            for topic_error in response.topic_errors:
                name, code = topic_error[0], topic_error[1]
                if code not in (0, _TOPIC_ALREADY_EXISTS):
                    raise TopicCreationFailed(f"cannot create topic {name}: error code {code}")
            log.info("topics created", extra={"topics": missing})
    except TopicCreationFailed:
        raise
    except Exception as exc:
        log.warning("kafka not reachable yet, retrying", extra={"error": repr(exc)})
        raise
    finally:
        await admin.close()


class EventPublisher:
    """Publishes contract events: JSON CloudEvents keyed for per-entity order."""

    def __init__(self, broker: KafkaBroker) -> None:
        self._broker = broker

    async def publish(self, event: AnyEvent) -> None:
        await self.publish_raw(event.topic, event.partition_key(), event.to_json())

    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        # The publish span continues the event's trace, wherever it is published from.
        with event_trace(value):
            await self._broker.publish(
                value,
                topic,
                key=key.encode(),
                headers={"content-type": CONTENT_TYPE, **(headers or {})},
            )

    async def send_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> asyncio.Future[Any]:
        """Hand a record to the producer without waiting; the future resolves on its ack.

        Records sent this way keep their order per partition, so many can be in flight."""
        with event_trace(value):
            future: asyncio.Future[Any] = await self._broker.publish(
                value,
                topic,
                key=key.encode(),
                headers={"content-type": CONTENT_TYPE, **(headers or {})},
                no_confirm=True,
            )
        return future

    async def publish_many(self, events: Sequence[AnyEvent]) -> None:
        """Publish `events` pipelined, in order per partition; returns once all are acked."""
        acks = [
            await self.send_raw(event.topic, event.partition_key(), event.to_json())
            for event in events
        ]
        await asyncio.gather(*acks)


class KafkaProbe:
    """Readiness: asks the cluster for its metadata, with a short timeout."""

    def __init__(
        self, bootstrap_servers: str, timeout: float = 3.0, security: BaseSecurity | None = None
    ) -> None:
        self._servers = bootstrap_servers.split(",")
        self._timeout = timeout
        self._options = parse_security(security)
        self._admin: AIOKafkaAdminClient | None = None

    async def check(self) -> None:
        try:
            if self._admin is None:
                self._admin = AIOKafkaAdminClient(
                    bootstrap_servers=self._servers,
                    request_timeout_ms=int(self._timeout * 1000),
                    **self._options,
                )
                await asyncio.wait_for(self._admin.start(), self._timeout)
            cluster: dict[str, Any] = await asyncio.wait_for(
                self._admin.describe_cluster(), self._timeout
            )
            if not cluster.get("brokers"):
                raise ConnectionError("the cluster reports no brokers")
        except BaseException:
            # A fresh client next time: a broken one can keep failing after Kafka is back.
            await self.close()
            raise

    async def close(self) -> None:
        admin, self._admin = self._admin, None
        if admin is not None:
            try:
                await admin.close()
            except Exception:
                log.debug("closing kafka probe client failed", exc_info=True)
