"""Scored batches' events: one acknowledged send each, also when the batch is tried again."""

from __future__ import annotations

import asyncio
from typing import Any

from chassis.bulk import BatchPublisher
from support import post_shared


class Producer:
    """Stands in for chassis.bulk.BulkProducer: records each send, acknowledged at once."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, bytes, bytes]] = []

    def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Any]:
        self.sent.append((topic, key, value))
        done: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        done.set_result(None)
        return done


async def test_a_batch_tried_again_sends_nothing_kafka_acknowledged() -> None:
    producer = Producer()
    publisher = BatchPublisher("127.0.0.1:9", "test", 1024, producer=producer)  # type: ignore[arg-type]
    first, second, third = (post_shared(n) for n in range(3))

    await publisher.publish_many([first, second])
    # The same batch again (its standing was written by another worker meanwhile), and
    # one more event of its own.
    await publisher.publish_many([first, second, third])

    assert [value for _, _, value in producer.sent] == [
        first.to_json(),
        second.to_json(),
        third.to_json(),
    ]


async def test_an_event_is_sent_again_once_it_is_forgotten() -> None:
    producer = Producer()
    publisher = BatchPublisher("127.0.0.1:9", "test", 1024, remember=1, producer=producer)  # type: ignore[arg-type]
    first, second = post_shared(1), post_shared(2)

    await publisher.publish_many([first])
    await publisher.publish_many([second])
    await publisher.publish_many([first])

    assert len(producer.sent) == 3
