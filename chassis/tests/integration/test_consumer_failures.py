"""A batch consumer whose handler fails, against the real Kafka: dead letters and outages."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from faststream.kafka import KafkaBroker
from pymongo.errors import AutoReconnect

from chassis.consumer import Consumed, subscribe_batch
from chassis.kafka import EventPublisher
from contracts import PostShared, dlq_topic
from contracts.topics import (
    DLQ_CONSUMER_HEADER,
    DLQ_ERROR_HEADER,
    DLQ_ERROR_TYPE_HEADER,
    DLQ_SOURCE_HEADER,
)
from support import (
    KAFKA,
    eventually,
    post_shared,
    produce_in_order,
    read_topic,
    ref,
    start_group_at_end,
)

TOPIC = PostShared.topic
Handler = Callable[[list[Consumed[Any]]], Any]


class Worker:
    """A consumer group of its own on the post-shared topic, starting at its end."""

    def __init__(self, tenant: str) -> None:
        self.tenant = tenant
        self.group = ref("chassis-it-")
        self.applied: Counter[str] = Counter()
        self.broker = KafkaBroker(KAFKA, acks="all", enable_idempotence=True)

    def ours(self, items: list[Consumed[Any]]) -> list[str]:
        return [i.event.id for i in items if i.event.tenantid == self.tenant]

    async def start(self, handler: Handler, **retries: Any) -> None:
        await start_group_at_end(self.group, [TOPIC])
        subscribe_batch(
            self.broker,
            topics=[TOPIC],
            group_id=self.group,
            handler=handler,
            publisher=EventPublisher(self.broker),
            batch_timeout_ms=50,
            fetch_max_wait_ms=100,
            **retries,
        )
        await self.broker.start()

    async def snapshot(self) -> dict[str, int]:
        return dict(self.applied)

    async def committed(self) -> int:
        admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
        await admin.start()
        try:
            offsets = await admin.list_consumer_group_offsets(self.group)
        finally:
            await admin.close()
        meta = offsets.get(TopicPartition(TOPIC, 0))
        return meta.offset if meta is not None else -1


@pytest.fixture
async def worker() -> AsyncIterator[Worker]:
    w = Worker(ref("dlq-it-"))
    try:
        yield w
    finally:
        await w.broker.stop()


async def _end_offset() -> int:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA)
    await consumer.start()
    try:
        partition = TopicPartition(TOPIC, 0)
        return int((await consumer.end_offsets([partition]))[partition])
    finally:
        await consumer.stop()


def _dead_of(tenant: str, records: list[Any]) -> list[Any]:
    # The dead-letter topic also holds other tests' records, some not even JSON.
    return [r for r in records if f'"tenantid":"{tenant}"'.encode() in (r.value or b"")]


async def test_an_event_the_handler_always_fails_on_goes_to_the_dead_letters(
    worker: Worker,
) -> None:
    events = [post_shared(n, worker.tenant) for n in range(6)]
    bad = events[3]

    async def handler(items: list[Consumed[Any]]) -> None:
        ids = worker.ours(items)
        if bad.id in ids:
            raise ValueError(f"share {bad.id} names an unknown network")
        worker.applied.update(ids)

    await worker.start(handler, attempts=2, retry_wait_initial=0.01, retry_wait_max=0.05)
    await produce_in_order(*events)
    end = await _end_offset()

    good = [e.id for e in events if e is not bad]
    await eventually(worker.snapshot, lambda got: set(got) == set(good))
    assert worker.applied == Counter(good)

    dead = await read_topic(
        dlq_topic(TOPIC), lambda got: any(bad.id.encode() in (r.value or b"") for r in got)
    )
    ours = _dead_of(worker.tenant, dead)
    assert [json.loads(r.value)["id"] for r in ours] == [bad.id]
    headers = {k: v.decode() for k, v in ours[0].headers}
    assert headers[DLQ_ERROR_HEADER] == f"share {bad.id} names an unknown network"
    assert headers[DLQ_ERROR_TYPE_HEADER] == "ValueError"
    assert headers[DLQ_SOURCE_HEADER].startswith(f"{TOPIC}/0/")
    assert headers[DLQ_CONSUMER_HEADER] == worker.group

    # The partition moved on: everything up to the end is committed.
    await eventually(worker.committed, lambda offset: offset >= end)


async def test_an_outage_is_outlasted_and_nothing_is_dead_lettered(
    worker: Worker, caplog: pytest.LogCaptureFixture
) -> None:
    events = [post_shared(n, worker.tenant) for n in range(5)]
    failures = 0

    async def handler(items: list[Consumed[Any]]) -> None:
        nonlocal failures
        ids = worker.ours(items)
        if ids and failures < 12:
            failures += 1
            raise AutoReconnect("127.0.0.1:27017: connection refused")
        worker.applied.update(ids)

    # An outage longer than one delivery's budget: the batch is also delivered again.
    await worker.start(
        handler, attempts=1, retry_wait_initial=0.01, retry_wait_max=0.05, outage_timeout=0.2
    )
    await produce_in_order(*events)
    end = await _end_offset()

    await eventually(worker.snapshot, lambda got: set(got) == {e.id for e in events})
    assert failures == 12
    assert "batch failed; it will be delivered again" in caplog.messages
    assert worker.applied == Counter(e.id for e in events)
    await eventually(worker.committed, lambda offset: offset >= end)

    dead = await read_topic(dlq_topic(TOPIC), lambda got: False, timeout=2)
    assert _dead_of(worker.tenant, dead) == []


async def test_a_batch_under_way_is_committed_before_its_partition_moves() -> None:
    """A second consumer joins the group while the first is handling a batch, as a new
    replica does in a rolling update: the first finishes and commits before partition 0
    moves, so the second does not handle (and republish what derives from) it again."""
    tenant, group = ref("rebalance-it-"), ref("chassis-it-")
    await start_group_at_end(group, [TOPIC])
    handled: dict[str, list[str]] = {}
    under_way = asyncio.Event()

    def handler(name: str, pause: float) -> Handler:
        async def handle(items: list[Consumed[Any]]) -> None:
            ids = [i.event.id for i in items if i.event.tenantid == tenant]
            if ids and pause:
                under_way.set()
                await asyncio.sleep(pause)
            for event_id in ids:
                handled.setdefault(event_id, []).append(name)

        return handle

    # Partition 0 goes to the member whose id sorts first: the one joining later.
    first = KafkaBroker(KAFKA, client_id="z-first")
    second = KafkaBroker(KAFKA, client_id="a-second")
    try:
        for broker, handle in ((first, handler("first", 3.0)), (second, handler("second", 0))):
            subscribe_batch(
                broker,
                topics=[TOPIC],
                group_id=group,
                handler=handle,
                publisher=EventPublisher(broker),
                batch_timeout_ms=50,
                fetch_max_wait_ms=100,
            )
        await first.start()
        events = [post_shared(n, tenant) for n in range(5)]
        await produce_in_order(*events)
        await asyncio.wait_for(under_way.wait(), 30)
        await second.start()

        marker = post_shared(99, tenant)
        await produce_in_order(marker)
        await eventually(lambda: _copy(handled), lambda got: marker.id in got, timeout=60)
        assert handled[marker.id] == ["second"], "partition 0 did not move"
        # The batch under way was the first's, whatever came after it the second's.
        assert handled[events[0].id] == ["first"]
        assert {e.id: len(handled[e.id]) for e in events} == {e.id: 1 for e in events}
    finally:
        await second.stop()
        await first.stop()


async def _copy(handled: dict[str, list[str]]) -> dict[str, list[str]]:
    return dict(handled)
