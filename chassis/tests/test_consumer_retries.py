"""What a batch consumer does when its handler fails: retry, isolate, dead-letter. No broker."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
import stamina
from aiokafka import ConsumerRecord
from aiokafka.errors import (
    KafkaConnectionError,
    NotLeaderForPartitionError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
    UnknownError,
)
from pymongo.errors import AutoReconnect, DuplicateKeyError, ServerSelectionTimeoutError

from chassis.consumer import (
    BatchConsumer,
    Consumed,
    DeadLetters,
    RecentEvents,
    _Redeliver,
    is_fatal,
    is_transient,
)
from chassis.kafka import EventPublisher
from chassis.projection import WatermarkConflict
from contracts import PostShared, dlq_topic
from contracts.topics import (
    DLQ_CONSUMER_HEADER,
    DLQ_ERROR_HEADER,
    DLQ_ERROR_TYPE_HEADER,
    DLQ_SOURCE_HEADER,
)
from support import post_shared

TOPIC = PostShared.topic


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    # No backoff waits; attempts left as each call sets them, only bounded where unbounded.
    with stamina.set_testing(True, attempts=20, cap=True):
        yield


class FakePublisher(EventPublisher):
    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes, dict[str, str]]] = []

    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.sent.append((topic, key, value, headers or {}))


class Effects:
    """A handler whose effect is a list of event ids; it fails as the test says."""

    def __init__(self, fail: Any = None) -> None:
        self.applied: list[str] = []
        self.calls: list[list[str]] = []
        self._fail = fail

    async def __call__(self, items: list[Consumed[Any]]) -> None:
        ids = [item.event.id for item in items]
        self.calls.append(ids)
        if self._fail is not None:
            self._fail(ids, len(self.calls))
        self.applied += ids


def _record(offset: int, value: bytes) -> ConsumerRecord[Any, Any]:
    return ConsumerRecord(
        TOPIC, 3, offset, 0, 0, b"acme:e1", value, None, 7, len(value), [("x-trace", b"t1")]
    )


def _batch(count: int) -> tuple[list[PostShared], list[ConsumerRecord[Any, Any]]]:
    events = [post_shared(n) for n in range(count)]
    return events, [_record(100 + n, e.to_json()) for n, e in enumerate(events)]


def _consumer(handler: Effects, publisher: FakePublisher, **kwargs: Any) -> BatchConsumer:
    return BatchConsumer(handler, DeadLetters(publisher, "metrics"), "metrics", **kwargs)


@pytest.mark.parametrize(
    ("error", "transient"),
    [
        (AutoReconnect("gone"), True),
        (ServerSelectionTimeoutError("no server"), True),
        (KafkaConnectionError("refused"), True),
        (NotLeaderForPartitionError(), True),
        (ConnectionRefusedError(), True),
        (TimeoutError(), True),
        (WatermarkConflict("moved"), True),
        (ExceptionGroup("both", [AutoReconnect(), TimeoutError()]), True),
        (ValueError("bad data"), False),
        (KeyError("points"), False),
        (DuplicateKeyError("dup"), False),
        (UnknownError(), False),
        (ExceptionGroup("mixed", [AutoReconnect(), ValueError()]), False),
    ],
)
def test_which_failures_are_infrastructure(error: BaseException, transient: bool) -> None:
    assert is_transient(error) is transient


def test_a_failure_raised_from_an_outage_is_one() -> None:
    try:
        try:
            raise AutoReconnect("primary stepped down")
        except AutoReconnect as exc:
            raise RuntimeError("could not save the ledger") from exc
    except RuntimeError as wrapped:
        assert is_transient(wrapped)


async def test_a_batch_that_succeeds_is_handled_once() -> None:
    events, records = _batch(4)
    handler, publisher = Effects(), FakePublisher()
    handled = await _consumer(handler, publisher).consume(records)
    assert [item.event.id for item in handled] == [e.id for e in events]
    assert handler.calls == [[e.id for e in events]]
    assert publisher.sent == []


async def test_an_event_that_always_fails_is_dead_lettered_and_the_rest_handled() -> None:
    events, records = _batch(7)
    bad = events[4].id

    def fail(ids: list[str], call: int) -> None:
        if bad in ids:
            raise ValueError(f"no rule accepts share {bad}")

    handler, publisher = Effects(fail), FakePublisher()
    handled = await _consumer(handler, publisher, attempts=3).consume(records)

    good = [e.id for e in events if e.id != bad]
    assert [item.event.id for item in handled] == good
    # Applied once each, in delivery order.
    assert handler.applied == good
    [(topic, key, value, headers)] = publisher.sent
    assert topic == dlq_topic(TOPIC)
    assert key == "acme:e1"
    assert value == events[4].to_json()
    assert headers[DLQ_ERROR_HEADER] == f"no rule accepts share {bad}"
    assert headers[DLQ_ERROR_TYPE_HEADER] == "ValueError"
    assert headers[DLQ_SOURCE_HEADER] == f"{TOPIC}/3/104"
    assert headers[DLQ_CONSUMER_HEADER] == "metrics"
    assert headers["x-trace"] == "t1"
    # The whole batch three times, then the halves; the failing event alone three times.
    assert handler.calls[:3] == [[e.id for e in events]] * 3
    assert handler.calls.count([bad]) == 3


async def test_several_failing_events_each_go_to_the_dead_letters() -> None:
    events, records = _batch(9)
    bad = {events[0].id, events[5].id, events[8].id}

    def fail(ids: list[str], call: int) -> None:
        if bad & set(ids):
            raise KeyError("points")

    handler, publisher = Effects(fail), FakePublisher()
    handled = await _consumer(handler, publisher, attempts=2).consume(records)
    assert [item.event.id for item in handled] == [e.id for e in events if e.id not in bad]
    assert sorted(value for _, _, value, _ in publisher.sent) == sorted(
        e.to_json() for e in events if e.id in bad
    )
    assert {headers[DLQ_ERROR_HEADER] for *_, headers in publisher.sent} == {"'points'"}


async def test_a_lone_event_that_fails_is_dead_lettered_after_its_attempts() -> None:
    _, records = _batch(1)
    handler, publisher = Effects(lambda ids, call: 1 / 0), FakePublisher()
    assert await _consumer(handler, publisher, attempts=4).consume(records) == []
    assert len(handler.calls) == 4
    [(_, _, _, headers)] = publisher.sent
    assert headers[DLQ_ERROR_TYPE_HEADER] == "ZeroDivisionError"


async def test_a_failure_that_passes_is_not_dead_lettered() -> None:
    events, records = _batch(5)

    def fail(ids: list[str], call: int) -> None:
        if call <= 2:
            raise ValueError("a hiccup")

    handler, publisher = Effects(fail), FakePublisher()
    handled = await _consumer(handler, publisher, attempts=3).consume(records)
    assert len(handled) == 5
    assert handler.applied == [e.id for e in events]
    assert publisher.sent == []


async def test_an_outage_is_retried_and_never_dead_lettered() -> None:
    events, records = _batch(3)

    def fail(ids: list[str], call: int) -> None:
        if call <= 10:
            raise AutoReconnect("connection refused")

    handler, publisher = Effects(fail), FakePublisher()
    # More outage than the non-infrastructure attempts allow: those do not count outages.
    handled = await _consumer(handler, publisher, attempts=2).consume(records)
    assert [item.event.id for item in handled] == [e.id for e in events]
    assert handler.applied == [e.id for e in events]
    assert publisher.sent == []


async def test_an_outage_longer_than_a_delivery_gives_the_batch_back() -> None:
    _, records = _batch(3)
    handler = Effects(lambda ids, call: (_ for _ in ()).throw(KafkaConnectionError("down")))
    publisher = FakePublisher()
    with pytest.raises(_Redeliver):
        await _consumer(handler, publisher).consume(records)
    assert handler.applied == []
    assert publisher.sent == []


@pytest.mark.parametrize("error", [OutOfOrderSequenceNumber(), ProducerFenced()])
async def test_a_broken_producer_stops_the_process_and_dead_letters_nothing(
    error: Exception,
) -> None:
    _, records = _batch(3)

    def fail(ids: list[str], call: int) -> None:
        # As the publisher raises it: inside the handler's own error.
        try:
            raise error
        except Exception as inner:
            raise RuntimeError("publishing the awards failed") from inner

    handler, publisher, stops = Effects(fail), FakePublisher(), []
    with pytest.raises(_Redeliver):
        await _consumer(handler, publisher, on_fatal=stops.append).consume(records)
    assert len(handler.calls) == 1  # not tried again, not split
    assert publisher.sent == []
    assert len(stops) == 1 and is_fatal(stops[0])


def test_only_a_producer_broken_for_good_is_fatal() -> None:
    assert is_fatal(OutOfOrderSequenceNumber())
    assert not is_fatal(KafkaConnectionError("refused"))
    assert not is_fatal(NotLeaderForPartitionError())
    assert not is_fatal(ValueError("bad event"))


async def test_an_outage_while_isolating_gives_the_batch_back() -> None:
    events, records = _batch(4)
    bad = events[1].id

    def fail(ids: list[str], call: int) -> None:
        if bad in ids:
            raise ValueError("bad")
        raise AutoReconnect("the database went away meanwhile")

    handler, publisher = Effects(fail), FakePublisher()
    with pytest.raises(_Redeliver):
        await _consumer(handler, publisher, attempts=1).consume(records)
    assert handler.applied == []


async def test_the_delivery_budget_bounds_outage_retries() -> None:
    _, records = _batch(2)
    calls = 0

    async def down(items: list[Consumed[Any]]) -> None:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.02)
        raise ConnectionResetError("reset by peer")

    batches = BatchConsumer(
        down,
        DeadLetters(FakePublisher(), "metrics"),
        "metrics",
        wait_initial=0.01,
        wait_max=0.03,
        outage_timeout=0.2,
    )
    with stamina.set_testing(False):
        with pytest.raises(_Redeliver):
            await batches.consume(records)
    assert 2 <= calls < 20


async def test_poison_records_and_failing_events_both_go_to_the_dead_letters() -> None:
    events, records = _batch(3)
    records.insert(1, _record(99, b"not json"))

    def fail(ids: list[str], call: int) -> None:
        if events[2].id in ids:
            raise ValueError("bad")

    handler, publisher = Effects(fail), FakePublisher()
    handled = await _consumer(handler, publisher, attempts=1).consume(records)
    assert [item.event.id for item in handled] == [events[0].id, events[1].id]
    assert [headers[DLQ_ERROR_TYPE_HEADER] for *_, headers in publisher.sent] == [
        "PoisonRecord",
        "ValueError",
    ]


async def test_a_copy_of_an_event_handled_lately_is_left_out() -> None:
    """A producer that redid a batch sends its events again, at new offsets: the consumer
    that handled them leaves the copies out, and a second copy within one batch too."""
    events, records = _batch(3)
    handler, publisher = Effects(), FakePublisher()
    consumer = _consumer(handler, publisher)
    await consumer.consume(records)
    fresh = post_shared(9)
    again = [_record(200, events[1].to_json()), _record(201, fresh.to_json())]
    again.append(_record(202, fresh.to_json()))
    handled = await consumer.consume(again)
    assert [item.event.id for item in handled] == [fresh.id]
    assert handler.calls == [[e.id for e in events], [fresh.id]]


async def test_an_event_whose_batch_was_given_back_is_handled_at_its_next_delivery() -> None:
    _, records = _batch(2)
    down = True

    def fail(ids: list[str], call: int) -> None:
        if down:
            raise KafkaConnectionError("down")

    handler, publisher = Effects(fail), FakePublisher()
    consumer = _consumer(handler, publisher, outage_timeout=0.05)
    with pytest.raises(_Redeliver):
        await consumer.consume(records)
    down = False
    handled = await consumer.consume(records)
    assert len(handled) == 2


async def test_a_dead_lettered_event_is_not_remembered_as_handled() -> None:
    events, records = _batch(3)
    bad = events[1].id

    def fail(ids: list[str], call: int) -> None:
        if bad in ids:
            raise ValueError("bad data")

    handler, publisher = Effects(fail), FakePublisher()
    consumer = _consumer(handler, publisher, attempts=1)
    await consumer.consume(records)
    await consumer.consume([_record(300, events[1].to_json())])
    assert len(publisher.sent) == 2  # dead-lettered at each delivery, never taken as handled


def test_recent_events_forget_the_oldest_first() -> None:
    recent = RecentEvents(size=3)
    recent.add(iter([("t", "a"), ("t", "b"), ("t", "c")]))
    recent.add(iter([("t", "a"), ("t", "d")]))  # "a" seen again: it is the newest now
    assert ("t", "b") not in recent
    assert [("t", k) in recent for k in "acd"] == [True, True, True]
    assert ("u", "a") not in recent  # another topic's event of that id is another event
    assert len(recent) == 3


def test_attempts_must_allow_one_try() -> None:
    with pytest.raises(ValueError):
        _consumer(Effects(), FakePublisher(), attempts=0)
