"""A service's confirmation of an erasure goes out once per request, whatever repeats it."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from chassis.erasure import COLLECTION, Confirmations
from contracts import ErasureCompleted

AT = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


class RecordingPublisher:
    def __init__(self, fail: bool = False) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.fail = fail

    async def publish_raw(self, topic: str, key: str, value: bytes, headers: Any = None) -> None:
        if self.fail:
            raise ConnectionError("Kafka is away")
        self.sent.append((topic, key, value))


async def test_a_request_is_confirmed_once_however_often_it_is_erased(db) -> None:
    publisher = RecordingPublisher()
    confirmations = Confirmations(db, publisher, "rewards")  # type: ignore[arg-type]
    await confirmations.ensure_indexes()
    assert await confirmations.confirm("acme", "req-1", AT)
    # A redelivered erasure, a replay, a retry after a crash: the same confirmation.
    assert not await confirmations.confirm("acme", "req-1", AT)
    assert not await confirmations.confirm("acme", "req-1", datetime.now(UTC))
    assert await confirmations.confirm("acme", "req-2", AT)

    [(topic, key, value), _] = publisher.sent
    event = ErasureCompleted.from_json(value)
    assert topic == ErasureCompleted.topic and key == "acme:req-1"
    assert event.source == "/chorus/rewards" and event.subject == "req-1"
    assert (event.data.request_id, event.data.service) == ("req-1", "rewards")
    # Another service's confirmation of the same request is another event.
    other = ErasureCompleted.confirming("acme", "req-1", "share", AT, None)
    assert other.id != event.id
    # Nothing pending, and nothing stored that names a person.
    assert await db[COLLECTION].count_documents({"_outbox_n": {"$gt": 0}}) == 0
    doc = await db[COLLECTION].find_one({"_id": event.id})
    assert doc is not None and set(doc) >= {"tenant", "request_id", "completed_at"}


async def test_a_confirmation_kafka_refused_is_relayed_later(db) -> None:
    away = RecordingPublisher(fail=True)
    confirmations = Confirmations(db, away, "content", lease_seconds=0)  # type: ignore[arg-type]
    assert await confirmations.confirm("acme", "req-3", AT)
    assert away.sent == []
    back = RecordingPublisher()
    relayed = Confirmations(db, back, "content", lease_seconds=0)  # type: ignore[arg-type]
    assert await relayed.outbox.relay_once() == 1
    [(_, _, value)] = back.sent
    assert json.loads(value)["data"]["request_id"] == "req-3"
    # Confirmed already: asking again publishes nothing.
    assert not await relayed.confirm("acme", "req-3", AT)
    assert await relayed.outbox.relay_once() == 0
