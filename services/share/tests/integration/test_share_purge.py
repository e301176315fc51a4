"""The worker's purge keeps what the rules still need and drops the rest."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from chassis import outbox
from share.adapters.mongo import ShareRepository
from support import MONGODB_URL, ref


async def test_purge_drops_old_visits_finished_batches_and_old_day_counters() -> None:
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    database = f"chorus_share_purge_{ref('')}"
    repo = ShareRepository(client[database])
    now = datetime.now(UTC)
    try:
        await repo.visits.insert_many(
            [{"_id": "old", "at": now - timedelta(hours=2)}, {"_id": "new", "at": now}]
        )
        await repo.click_batches.insert_many(
            [{"_id": "done", outbox.COUNT: 0}, {"_id": "pending", outbox.COUNT: 3}]
        )
        await repo.daily_counts.insert_many(
            [{"_id": "a", "day": now - timedelta(days=3)}, {"_id": "b", "day": now}]
        )
        removed = await repo.purge(now, now - timedelta(hours=1))
        assert removed == {"visits": 1, "click_batches": 1, "daily_counts": 1}
        assert [d["_id"] async for d in repo.visits.find()] == ["new"]
        assert [d["_id"] async for d in repo.click_batches.find()] == ["pending"]
        assert [d["_id"] async for d in repo.daily_counts.find()] == ["b"]
    finally:
        await client.drop_database(database)
        await client.close()
