"""A visitor's click is unique once per hour across every api replica: two replicas that
record the same visitors at the same moment agree on one unique click each, a visit stored
more than an hour ago makes the next click unique again, and one stored lately does not."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient
from share_stack import TopicTail

from chassis.bulk import BulkProducer
from contracts import Network
from contracts.topics import ENGAGEMENT_OBSERVED
from share.adapters.clicks import ClickRecorder
from share.adapters.mongo import ShareRepository
from share.domain.shares import Share
from support import KAFKA, MONGODB_URL, ref


async def _record(recorder: ClickRecorder, share: Share, visitor: str, at: datetime) -> None:
    done: asyncio.Future[BaseException | None] = asyncio.get_running_loop().create_future()
    recorder.record_soon(share, visitor, at, done.set_result)
    assert await done is None


# The share processes the fixture starts create the topics.
@pytest.mark.usefixtures("share_stack")
async def test_replicas_agree_on_one_unique_click_per_visitor_and_hour() -> None:
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    database = f"chorus_share_uniqueness_{ref('')}"
    repo = ShareRepository(client[database])
    await repo.ensure_indexes()
    producers = [BulkProducer(KAFKA, ref("share-replica-"), ack_timeout=10.0) for _ in range(2)]
    for producer in producers:
        await producer.start()
    replicas = [ClickRecorder(repo, producer, lease_seconds=60.0) for producer in producers]
    share = Share(
        id=ref("share"),
        tenant=ref("acme"),
        employee_id="e1",
        network=Network.LINKEDIN,
        short_code=ref("")[-8:],
        target_url="https://careers.example.com/jobs/42",
    )
    now = datetime.now(UTC).replace(microsecond=0)
    visitors = [f"visitor-{i}" for i in range(40)]
    tail = await TopicTail(ENGAGEMENT_OBSERVED).start()
    try:
        # A visit the store holds from two hours ago, and one from ten minutes ago.
        await repo.visits.insert_many(
            [
                {"_id": f"{share.id}:returning", "at": now - timedelta(hours=2)},
                {"_id": f"{share.id}:lately", "at": now - timedelta(minutes=10)},
            ]
        )
        # Every visitor clicks through both replicas at the same moment, twice.
        await asyncio.gather(
            *(
                _record(replica, share, visitor, now + timedelta(milliseconds=attempt))
                for attempt in range(2)
                for replica in replicas
                for visitor in visitors
            )
        )
        for replica in replicas:
            await _record(replica, share, "returning", now)
            await _record(replica, share, "lately", now)

        expected = 4 * len(visitors) + 4
        mine: list[dict] = []
        for _ in range(30):  # every click is acknowledged already; a loaded machine reads late
            records = await tail.poll(1)
            mine = [r["data"] for r in records if r["data"]["share_id"] == share.id]
            if len(mine) >= expected:
                break
        await tail.poll(1)  # nothing more comes: no click is recorded twice
        mine = [r["data"] for r in tail.records if r["data"]["share_id"] == share.id]
        assert len(mine) == expected
        unique = [d["visitor"] for d in mine if d["unique"]]
        assert sorted(unique) == sorted([*visitors, "returning"])
        stored = {doc["_id"]: doc["at"] async for doc in repo.visits.find()}
        assert stored[f"{share.id}:returning"] == now
        assert stored[f"{share.id}:lately"] == now - timedelta(minutes=10)
    finally:
        await tail.stop()
        for producer in producers:
            await producer.stop()
        await client.drop_database(database)
        await client.close()
