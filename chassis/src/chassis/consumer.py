"""Batch consumption of contract events with dead letters and commit-after-effect.

FastStream has no Kafka dead-letter support; this is ours, written once:
- a record that does not parse as its topic's event goes to `<topic>.dlq` with the reason
  in headers, and the rest of the batch goes on;
- the handler gets the valid events of a batch and must make their effect durable and
  idempotent by event id; only then are the offsets committed;
- if the handler fails (database down, say), nothing is committed and the consumer seeks
  back, so the batch is delivered again after a pause: never skipped, never half-counted.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from aiokafka import ConsumerRecord
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from prometheus_client import Counter
from pydantic import ValidationError

from chassis.kafka import EventPublisher
from contracts import EVENTS_BY_TOPIC, AnyEvent, dlq_topic
from contracts.topics import (
    DLQ_CONSUMER_HEADER,
    DLQ_ERROR_HEADER,
    DLQ_ERROR_TYPE_HEADER,
    DLQ_SOURCE_HEADER,
)

log = logging.getLogger(__name__)
E = TypeVar("E", bound=AnyEvent)

DEAD_LETTERS = Counter(
    "chorus_dead_letters_total", "Records sent to a dead-letter topic", ["topic", "consumer"]
)
BATCH_FAILURES = Counter(
    "chorus_consumer_batch_failures_total",
    "Batches whose effect failed and will be delivered again",
    ["consumer"],
)
EVENTS_CONSUMED = Counter(
    "chorus_events_consumed_total", "Events whose effect is durable", ["topic", "consumer"]
)


@dataclass(frozen=True)
class Consumed(Generic[E]):
    """A parsed event and where it came from; the position orders effects exactly once."""

    event: E
    topic: str
    partition: int
    offset: int


BatchHandler = Callable[[list[Consumed[Any]]], Awaitable[None]]


class PoisonRecord(ValueError):
    """A record that can never be processed, whatever the retry."""


def parse_record(record: ConsumerRecord[Any, Any]) -> AnyEvent:
    event_class = EVENTS_BY_TOPIC.get(record.topic)
    if event_class is None:
        raise PoisonRecord(f"no event contract for topic {record.topic}")
    if record.value is None:
        raise PoisonRecord("empty record value")
    try:
        return event_class.from_json(record.value)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors()[:10]
        )
        raise PoisonRecord(f"invalid {event_class.event_type()}: {reasons}") from exc


class DeadLetters:
    def __init__(self, publisher: EventPublisher, consumer: str) -> None:
        self._publisher = publisher
        self._consumer = consumer

    async def send(self, record: ConsumerRecord[Any, Any], error: Exception) -> None:
        headers = {
            k: v.decode(errors="replace") for k, v in (record.headers or ()) if k is not None
        }
        headers.update(
            {
                DLQ_ERROR_HEADER: str(error)[:4000],
                DLQ_ERROR_TYPE_HEADER: type(error).__name__,
                DLQ_SOURCE_HEADER: f"{record.topic}/{record.partition}/{record.offset}",
                DLQ_CONSUMER_HEADER: self._consumer,
            }
        )
        key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else ""
        await self._publisher.publish_raw(
            dlq_topic(record.topic), key, record.value or b"", headers=headers
        )
        DEAD_LETTERS.labels(record.topic, self._consumer).inc()
        log.warning(
            "record dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "error": str(error)[:500]},
        )


async def _raw_body(message: StreamMessage[Any]) -> Any:
    # Parsing is ours (with dead letters), not FastStream's content-type based decoding.
    return message.body


def subscribe_batch(
    broker: KafkaBroker,
    *,
    topics: Sequence[str],
    group_id: str,
    handler: BatchHandler,
    publisher: EventPublisher,
    max_records: int = 500,
    retry_delay: float = 1.0,
    batch_timeout_ms: int = 100,
    fetch_max_wait_ms: int = 500,
) -> None:
    """Consume `topics` in batches as consumer group `group_id`.

    `batch_timeout_ms` bounds how long a poll waits for records; FastStream also sleeps
    that long after an empty poll, so a record arriving then waits up to twice as long.
    `fetch_max_wait_ms` bounds how long Kafka holds a fetch that found no records (the
    client's default, 500 ms, unless given).
    """
    dead_letters = DeadLetters(publisher, group_id)
    subscriber = broker.subscriber(
        *topics,
        group_id=group_id,
        # Without this, Kafka's default "latest" silently drops events sent before we joined.
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        fetch_max_wait_ms=fetch_max_wait_ms,
        # We commit ourselves, only after the effect is durable.
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
    )

    @subscriber
    async def on_batch(body: list[bytes], message: KafkaMessage) -> None:
        raw = message.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        try:
            valid: list[Consumed[Any]] = []
            for record in records:
                try:
                    event = parse_record(record)
                except PoisonRecord as error:
                    await dead_letters.send(record, error)
                    continue
                valid.append(Consumed(event, record.topic, record.partition, record.offset))
            if valid:
                await handler(valid)
        except Exception:
            BATCH_FAILURES.labels(group_id).inc()
            log.exception("batch failed; it will be delivered again", extra={"group": group_id})
            await asyncio.sleep(retry_delay)
            await message.nack()
            return
        await message.ack()
        for item in valid:
            EVENTS_CONSUMED.labels(item.topic, group_id).inc()
