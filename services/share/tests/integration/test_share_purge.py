"""The worker's purge keeps what the rules still need and drops the rest, and finishes
the erasures a crash cut short."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from cryptography.fernet import Fernet
from pymongo import AsyncMongoClient

from chassis import outbox
from chassis.kafka import EventPublisher
from chassis.outbox import Outbox
from contracts.erasure import person_key, pseudonym
from share.adapters.clicks import LinkCache
from share.adapters.mongo import ShareRepository
from share.adapters.networks import TokenVault
from share.domain.clicks import DailySalts
from share.service_layer import handlers
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


class FakePublisher(EventPublisher):
    """Records what would have gone to Kafka."""

    def __init__(self) -> None:
        self.published: list[tuple[str, str, bytes]] = []

    async def publish_raw(
        self, topic: str, key: str, value: bytes, headers: dict[str, str] | None = None
    ) -> None:
        self.published.append((topic, key, value))


async def test_purge_finishes_an_erasure_a_crash_cut_short() -> None:
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    database = f"chorus_share_purge_{ref('')}"
    repo = ShareRepository(client[database])
    publisher = FakePublisher()
    now = datetime.now(UTC)
    services = handlers.Services(
        repo=repo,
        shares_outbox=Outbox(repo.shares, publisher, 10),
        advocates_outbox=Outbox(repo.advocates, publisher, 10),
        engagements_outbox=Outbox(repo.engagements, publisher, 10),
        clicks=None,
        links_cache=LinkCache(repo),
        salts=DailySalts(b"salt"),
        vault=TokenVault(repo, Fernet.generate_key().decode()),
        public_base_url="http://127.0.0.1:8090",
        default_daily_cap=20,
        link_secret=b"link",
        webhook_secret=b"webhook",
        clock=lambda: now,
    )
    tenant, cut_short, under_way = ref("t"), ref("cut-"), ref("now-")
    name = pseudonym("opted-out-event")
    try:
        await repo.advocates.insert_many(
            [
                # Begun ten minutes ago, its event not even published.
                {
                    "_id": f"{tenant}:{cut_short}",
                    "tenant": tenant,
                    "employee_id": cut_short,
                    "status": "opted_out",
                    "opted_out_at": now - timedelta(minutes=10),
                    "pseudonym": name,
                    outbox.PENDING: {
                        "opted-out-event": {"seq": 0, "topic": "t", "key": "k", "value": "{}"}
                    },
                    outbox.COUNT: 1,
                    outbox.LEASE: now,
                },
                # Begun just now: the erasure itself may still be at work.
                {
                    "_id": f"{tenant}:{under_way}",
                    "tenant": tenant,
                    "employee_id": under_way,
                    "status": "opted_out",
                    "opted_out_at": now,
                    "pseudonym": pseudonym("another"),
                    outbox.COUNT: 0,
                },
            ]
        )
        await repo.shares.insert_one(
            {
                "_id": "s1",
                "tenant": tenant,
                "employee_id": cut_short,
                "viewer": {"groups": [], "location": "oslo", "languages": []},
                "status": "shared",
            }
        )
        await repo.daily_counts.insert_one({"_id": f"{tenant}:{cut_short}:2026-01-02", "n": 1})

        removed = await handlers.purge(services)

        assert removed["erasures"] == 1
        assert [p[0] for p in publisher.published] == ["t"]
        share = await repo.shares.find_one({"_id": "s1"})
        assert share is not None and share["employee_id"] == name and "viewer" not in share
        assert await repo.daily_counts.count_documents({}) == 0
        left = [doc["_id"] async for doc in repo.advocates.find({}, {"_id": 1})]
        assert sorted(left) == sorted(
            [f"{tenant}:{under_way}", "erased:" + person_key(tenant, cut_short)]
        )
        assert (await handlers.purge(services))["erasures"] == 0
    finally:
        await client.drop_database(database)
        await client.close()
