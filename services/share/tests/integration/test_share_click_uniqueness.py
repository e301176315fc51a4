"""A visitor's click is unique once per hour, decided by share's worker off the redirect's
path: two workers deciding the same visitors at once (the one that held the partition a
moment ago and the one that holds it now) agree on one unique click each; a click delivered
again is decided as before, by whichever process; a visit stored more than an hour ago
makes the next click unique again, and one stored lately does not. Against the real store.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from pymongo import AsyncMongoClient

from share.adapters.mongo import ShareRepository
from share.adapters.visits import Click, Visits
from support import MONGODB_URL, ref


async def test_workers_agree_on_one_unique_click_per_visitor_and_hour() -> None:
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    database = f"chorus_share_uniqueness_{ref('')}"
    repo = ShareRepository(client[database])
    await repo.ensure_indexes()
    link = ref("share")
    now = datetime.now(UTC).replace(microsecond=0)
    visitors = [f"visitor-{i}" for i in range(40)]
    try:
        # A visit the store holds from two hours ago, and one from ten minutes ago.
        await repo.visits.insert_many(
            [
                {"_id": f"{link}:returning", "at": now - timedelta(hours=2)},
                {"_id": f"{link}:lately", "at": now - timedelta(minutes=10)},
            ]
        )
        workers = [Visits(repo), Visits(repo)]
        # Each worker gets every visitor's two clicks (its own ids) at the same moment.
        batches = [
            [
                Click(f"{link}:{visitor}", f"w{w}-{visitor}-{attempt}", now)
                for visitor in [*visitors, "returning", "lately"]
                for attempt in range(2)
            ]
            for w in range(2)
        ]
        await asyncio.gather(*(w.decide(b) for w, b in zip(workers, batches, strict=True)))
        clicks = [click for batch in batches for click in batch]
        unique = sorted(c.key.split(":", 1)[1] for c in clicks if c.unique)
        assert unique == sorted([*visitors, "returning"])
        stored = {doc["_id"]: doc async for doc in repo.visits.find()}
        assert stored[f"{link}:returning"]["at"] == now
        assert stored[f"{link}:lately"]["at"] == now - timedelta(minutes=10)
        claimed = {c.key: c.id for c in clicks if c.unique}
        assert all(stored[key]["by"] == claimed[key] for key in claimed)

        # Delivered again, to a process that knows nothing yet, and to one that does: the
        # clicks are decided as they were, the unique ones unique again.
        for worker in (Visits(repo), *workers):
            again = [Click(c.key, c.id, c.at) for c in clicks]
            await worker.decide(again)
            assert [c.unique for c in again] == [c.unique for c in clicks]

        # Within the hour, a repeat is not unique (from memory, or from the store); an hour
        # later it is, once.
        later = [Click(f"{link}:visitor-0", "late-1", now + timedelta(minutes=30))]
        await workers[0].decide(later)
        await Visits(repo).decide(later)
        assert not later[0].unique
        hour_on = [
            Click(f"{link}:visitor-0", "next-1", now + timedelta(hours=1)),
            Click(f"{link}:visitor-0", "next-2", now + timedelta(hours=1, seconds=1)),
        ]
        await workers[1].decide(hour_on)
        assert [c.unique for c in hour_on] == [True, False]
        assert (await repo.visits.find_one({"_id": f"{link}:visitor-0"}))["by"] == "next-1"
    finally:
        await client.drop_database(database)
        await client.close()
