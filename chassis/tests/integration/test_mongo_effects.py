"""Exactly-once counters and the outbox, against the real MongoDB-wire server."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from pymongo import UpdateOne

from chassis import outbox
from chassis.domain_errors import Conflict
from chassis.mongo import Updated, ordered_updates
from chassis.projection import Delta, WatermarkConflict, apply_exactly_once
from chassis.uow import UnitOfWork
from contracts import PointsAwarded, PointsAwardedData


def _deltas(offsets: range, partition: int = 0, doc: str = "d1") -> list[Delta]:
    return [Delta(doc, "chorus.post-shared.v1", partition, o, {"n": 1, "sum": o}) for o in offsets]


async def test_redelivery_with_other_batch_boundaries_counts_each_event_once(db) -> None:
    coll = db["counters"]
    assert await apply_exactly_once(coll, _deltas(range(0, 100))) == 100
    # After a crash the consumer starts again from an older commit, with other boundaries.
    assert await apply_exactly_once(coll, _deltas(range(50, 150))) == 50
    assert await apply_exactly_once(coll, _deltas(range(0, 150))) == 0
    doc = await coll.find_one({"_id": "d1"})
    assert doc is not None
    assert doc["n"] == 150
    assert doc["sum"] == sum(range(150))


async def test_partitions_have_watermarks_of_their_own(db) -> None:
    coll = db["counters"]
    await apply_exactly_once(coll, _deltas(range(10, 20), partition=0))
    await apply_exactly_once(coll, _deltas(range(0, 5), partition=1))
    doc = await coll.find_one({"_id": "d1"})
    assert doc is not None and doc["n"] == 15


async def test_set_on_insert_fields_are_written_once(db) -> None:
    coll = db["counters"]
    first = Delta("d2", "t", 0, 1, {"n": 1}, {"tenant": "acme"})
    later = Delta("d2", "t", 0, 2, {"n": 1}, {"tenant": "other"})
    await apply_exactly_once(coll, [first])
    await apply_exactly_once(coll, [later])
    doc = await coll.find_one({"_id": "d2"})
    assert doc is not None and doc["tenant"] == "acme" and doc["n"] == 2


class RacingCollection:
    """The real collection, with another writer moving the watermark just before each write."""

    def __init__(self, collection: Any) -> None:
        self.collection = collection

    def find(self, *args: Any, **kwargs: Any) -> Any:
        return self.collection.find(*args, **kwargs)

    async def update_one(self, condition: dict[str, Any], update: Any, upsert: bool = False) -> Any:
        await self.collection.update_one(
            {"_id": condition["_id"]}, {"$set": {"_wm.chorus_post-shared_v1-0": 999}}
        )
        return await self.collection.update_one(condition, update, upsert=upsert)


async def test_a_concurrent_writer_makes_the_batch_fail_instead_of_double_counting(db) -> None:
    coll = db["counters"]
    await apply_exactly_once(coll, _deltas(range(0, 10)))
    with pytest.raises(WatermarkConflict):
        await apply_exactly_once(RacingCollection(coll), _deltas(range(10, 20)))  # type: ignore[arg-type]
    doc = await coll.find_one({"_id": "d1"})
    assert doc is not None and doc["n"] == 10


class RecordingPublisher:
    """Our publisher port, recording instead of sending; `fail` simulates Kafka away."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, str, bytes]] = []
        self.fail = False

    async def publish_raw(self, topic: str, key: str, value: bytes, headers: Any = None) -> None:
        if self.fail:
            raise ConnectionError("kafka is away")
        self.sent.append((topic, key, value))


def _award(n: int) -> PointsAwarded:
    return PointsAwarded.create(
        tenant_id="acme",
        subject="e1",
        data=PointsAwardedData(
            award_id=f"a{n}",
            employee_id="e1",
            points=n,
            rule_id="r",
            rule_version=1,
            reason="test",
            source_event_id=f"s{n}",
            source_event_type="t",
            awarded_at=datetime.now(UTC),
        ),
    )


async def test_events_staged_with_a_write_are_published_in_order_and_cleared(db) -> None:
    publisher = RecordingPublisher()
    box = outbox.Outbox(db["docs"], publisher, lease_seconds=30)  # type: ignore[arg-type]
    await outbox.ensure_index(db["docs"])
    events = [_award(1), _award(2), _award(3)]
    await db["docs"].insert_one(outbox.new_document({"_id": "x"}, events, 30))
    await box.publish_now("x", events)
    assert [v for _, _, v in publisher.sent] == [e.to_json() for e in events]
    doc = await db["docs"].find_one({"_id": "x"})
    assert doc is not None and doc["_outbox_n"] == 0 and doc["_outbox"] == {}


async def test_relay_publishes_what_the_api_could_not_once_the_lease_ran_out(db) -> None:
    publisher = RecordingPublisher()
    box = outbox.Outbox(db["docs"], publisher, lease_seconds=30)  # type: ignore[arg-type]
    events = [_award(1)]
    await db["docs"].insert_one(outbox.new_document({"_id": "y"}, events, 30))
    publisher.fail = True
    await box.publish_now("y", events)  # Kafka away: no error, the event stays staged
    publisher.fail = False
    assert await box.relay_once() == 0  # lease still running: the api may yet publish
    await db["docs"].update_one(
        {"_id": "y"}, {"$set": {"_outbox_lease": datetime.now(UTC) - timedelta(seconds=1)}}
    )
    assert await box.relay_once() == 1
    assert await box.relay_once() == 0
    assert [v for _, _, v in publisher.sent] == [events[0].to_json()]
    assert await box.pending_documents() == 0


async def test_updates_can_stage_events_too(db) -> None:
    await db["docs"].insert_one({"_id": "z", "state": "draft", "_outbox_n": 0})
    events = [_award(7)]
    await db["docs"].update_one(
        {"_id": "z"},
        {
            "$set": {"state": "published", **outbox.staged(events, 0)},
            "$inc": outbox.increment(events),
        },
    )
    publisher = RecordingPublisher()
    box = outbox.Outbox(db["docs"], publisher, lease_seconds=30)  # type: ignore[arg-type]
    assert await box.relay_once() == 1
    assert publisher.sent[0][1] == "acme:e1"


async def test_a_unit_of_work_writes_each_document_with_its_events_then_publishes(db) -> None:
    publisher = RecordingPublisher()
    box = outbox.Outbox(db["docs"], publisher, lease_seconds=30)  # type: ignore[arg-type]
    first, second = _award(1), _award(2)
    async with UnitOfWork() as uow:
        uow.add(outbox.DocumentWrite(box, "a", new={"_id": "a", "rev": 1}), [first])
        uow.add(
            outbox.DocumentWrite(
                box,
                "b",
                where={"_id": "b", "rev": {"$exists": False}},
                update={"$set": {"state": "new"}, "$inc": {"rev": 1}},
                upsert=True,
            ),
            [second],
        )
        assert publisher.sent == []
    assert [json.loads(value)["id"] for _, _, value in publisher.sent] == [first.id, second.id]
    assert uow.committed == [first, second]
    b = await db["docs"].find_one({"_id": "b"})
    assert b is not None and b["rev"] == 1 and b["state"] == "new"
    assert b[outbox.COUNT] == 0 and not b.get(outbox.PENDING)


async def test_a_write_that_may_not_land_is_a_conflict_and_publishes_nothing(db) -> None:
    publisher = RecordingPublisher()
    box = outbox.Outbox(db["docs"], publisher, lease_seconds=30)  # type: ignore[arg-type]
    await db["docs"].insert_one({"_id": "c", "rev": 2})
    stale = outbox.DocumentWrite(
        box, "c", where={"_id": "c", "rev": 1}, update={"$inc": {"rev": 1}}
    )
    with pytest.raises(Conflict):
        async with UnitOfWork() as uow:
            uow.add(stale, [_award(3)])
    taken = outbox.DocumentWrite(box, "c", new={"_id": "c"})
    with pytest.raises(Conflict):
        async with UnitOfWork() as uow:
            uow.add(taken, [_award(4)])
    repeat = outbox.DocumentWrite(box, "c", new={"_id": "c"}, must_land=False)
    async with UnitOfWork() as uow:
        uow.add(repeat, [_award(5)])
    assert publisher.sent == [] and uow.committed == []
    c = await db["docs"].find_one({"_id": "c"})
    assert c == {"_id": "c", "rev": 2}


async def test_ordered_updates_go_in_bounded_commands_and_count_as_one_bulk(db) -> None:
    coll = db["bounded"]
    await coll.insert_many([{"_id": f"d{i}", "v": 0} for i in range(60)])
    updates = [UpdateOne({"_id": f"d{i}", "v": 0}, {"$set": {"v": 1}}) for i in range(60)]
    updates += [UpdateOne({"_id": "gone", "v": 0}, {"$set": {"v": 1}})]  # matches nothing
    updates += [UpdateOne({"_id": "new"}, {"$set": {"v": 1}}, upsert=True)]
    done = await ordered_updates(coll, updates, per_command=25)
    assert done == Updated(matched=60, upserted=1)
    assert await coll.count_documents({"v": 1}) == 61
