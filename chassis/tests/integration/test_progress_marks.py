"""A batch delivered again after a crash leaves out what was handled, and only that."""

from __future__ import annotations

from typing import Any

import pytest
from aiokafka import ConsumerRecord
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import AutoReconnect

from chassis.consumer import FIRST_RECORDS, BatchConsumer, Consumed, DeadLetters, _Redeliver
from chassis.kafka import EventPublisher
from chassis.progress import COLLECTION, Progress
from contracts import PostShared
from support import post_shared

TOPIC = PostShared.topic
GROUP = "metrics"
T0 = 1_796_000_000_000  # ms


class NoPublisher(EventPublisher):
    def __init__(self) -> None:
        pass

    async def publish_raw(self, topic: str, key: str, value: bytes, headers: Any = None) -> None:
        raise AssertionError("nothing is dead-lettered here")


class Effects:
    def __init__(self) -> None:
        self.applied: list[str] = []

    async def __call__(self, items: list[Consumed[Any]]) -> None:
        self.applied += [item.event.id for item in items]


def _record(partition: int, offset: int, n: int, at: int | None = None) -> ConsumerRecord[Any, Any]:
    value = post_shared(n).to_json()
    timestamp = T0 + offset if at is None else at
    return ConsumerRecord(
        TOPIC, partition, offset, timestamp, 0, b"acme:e1", value, None, 7, len(value), []
    )


class Process:
    """A consumer as a freshly started worker has it: nothing known in memory."""

    def __init__(self, db: AsyncDatabase[dict[str, Any]], group: str = GROUP) -> None:
        self.effects = Effects()
        self.progress = Progress(db[COLLECTION], group)
        self.consumer = BatchConsumer(
            self.effects, DeadLetters(NoPublisher(), group), group, progress=self.progress
        )

    async def consume(self, records: list[ConsumerRecord[Any, Any]]) -> list[str]:
        return [item.event.id for item in await self.consumer.consume(records)]


def _ids(records: list[ConsumerRecord[Any, Any]]) -> list[str]:
    return [PostShared.from_json(r.value).id for r in records]


async def test_a_batch_delivered_again_after_a_crash_leaves_out_what_was_handled(db) -> None:
    first = [_record(0, 10 + n, n) for n in range(5)]
    first += [_record(1, 40 + n, 10 + n) for n in range(3)]
    crashed = Process(db)
    assert await crashed.consume(first) == _ids(first)

    # Killed before Kafka's commit: the successor gets the same records and newer ones.
    again = [*first, _record(0, 15, 5), _record(1, 43, 13), _record(2, 0, 20)]
    successor = Process(db)
    assert await successor.consume(again) == _ids(again[len(first) :])
    assert successor.effects.applied == _ids(again[len(first) :])

    # The next batch follows on from what this process marked: nothing left out.
    following = [_record(0, 16, 6), _record(2, 1, 21)]
    assert await successor.consume(following) == _ids(following)


async def test_a_topic_made_again_starts_at_offset_zero_and_none_of_it_is_left_out(db) -> None:
    old = [_record(0, n, n) for n in range(20)]
    await Process(db).consume(old)
    # Deleted and made again: offsets start at 0, and the records are newer than the mark.
    new = [_record(0, n, 100 + n, at=T0 + 3_600_000 + n) for n in range(5)]
    assert await Process(db).consume(new) == _ids(new)


async def test_another_group_and_a_partition_had_by_another_consumer(db) -> None:
    batch = [_record(3, 7 + n, n) for n in range(4)]
    metrics = Process(db, "metrics")
    await metrics.consume(batch)
    assert await Process(db, "rewards").consume(batch) == _ids(batch)

    # The partition went to another consumer of the group, which handled three records and
    # stopped before its commit; it comes back. The marks are read again on assignment.
    await Process(db, "metrics").consume([_record(3, 11 + n, 10 + n) for n in range(3)])
    later = [_record(3, 11 + n, 10 + n) for n in range(5)]
    metrics.progress.forget()  # what the rebalance listener does on an assignment
    assert await metrics.consume(later) == _ids(later[3:])
    marks = await db[COLLECTION].find({"group": "metrics"}).to_list()
    assert [(m["topic"], m["partition"], m["offset"]) for m in marks] == [(TOPIC, 3, 15)]


class Cut(Effects):
    """A handler whose process dies (the database goes away for good) at its `at`-th call."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.calls: list[int] = []
        self._at = at

    async def __call__(self, items: list[Consumed[Any]]) -> None:
        self.calls.append(len(items))
        if len(self.calls) >= self._at:
            raise AutoReconnect("the database went away")
        await super().__call__(items)


async def test_a_starting_worker_takes_a_large_batch_in_growing_parts(db) -> None:
    """A worker that crashes again and again still moves on: it hands its handler
    FIRST_RECORDS at first, twice as many after each part, and marks each part; its
    successor leaves out the parts handled before the crash."""
    backlog = [_record(0, n, n) for n in range(FIRST_RECORDS + 2 * FIRST_RECORDS + 100)]
    crashed = Process(db)
    crashed.effects = Cut(at=2)
    crashed.consumer = BatchConsumer(
        crashed.effects,
        DeadLetters(NoPublisher(), GROUP),
        GROUP,
        progress=crashed.progress,
        outage_timeout=0.05,
    )
    with pytest.raises(_Redeliver):
        await crashed.consume(backlog)
    assert crashed.effects.calls[:2] == [FIRST_RECORDS, 2 * FIRST_RECORDS]
    assert crashed.effects.applied == _ids(backlog[:FIRST_RECORDS])

    successor = Process(db)
    assert await successor.consume(backlog) == _ids(backlog[FIRST_RECORDS:])
    # Its first part is FIRST_RECORDS again, all left out; then the rest, grown.
    assert successor.effects.applied == _ids(backlog[FIRST_RECORDS:])
