"""Buddy feedback earns points like any other action: the real worker scores the comments
and the first reaction a buddy gives (not cheers), under the default cap and under a rule
the program team changed."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from streams import start_group_at_end

from contracts import AnyEvent, BuddyFeedbackGiven, BuddyFeedbackGivenData, BuddyFeedbackKind
from support import KAFKA, MONGODB_URL, ServiceProcess, eventually, ref, token


def feedback(tenant: str, giver: str, kind: BuddyFeedbackKind, at: datetime) -> BuddyFeedbackGiven:
    return BuddyFeedbackGiven.create(
        tenant_id=tenant,
        subject=giver,
        data=BuddyFeedbackGivenData(
            feedback_id=uuid.uuid4().hex,
            employee_id=giver,
            buddy_id="author",
            pair_id="pair-1",
            kind=kind,
            draft_id=None if kind is BuddyFeedbackKind.CHEER else "draft-1",
            share_id="share-1" if kind is BuddyFeedbackKind.CHEER else None,
            given_at=at,
        ),
    )


async def test_buddy_feedback_is_scored_by_the_rules(tmp_path: Path) -> None:
    tenant, database, group = ref("buddy"), ref("chorus_rewards_buddy_"), ref("rewards-buddy-")
    await start_group_at_end(group)
    env = {
        "REWARDS_DATABASE": database,
        "REWARDS_CONSUMER_GROUP": group,
        "REWARDS_TENANTS": tenant,
    }
    worker = ServiceProcess("rewards", "worker", env=env).start(tmp_path)
    api = ServiceProcess("rewards", "api", env=env).start(tmp_path)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        await asyncio.to_thread(worker.wait_healthy)
        await asyncio.to_thread(api.wait_healthy)
        admin = token(tenant, "adm", roles=("admin",))
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            rules = (await http.get("/api/v1/rules", headers=admin)).json()["versions"][-1]
            assert rules["points"]["buddy-feedback"] == 2

            now = datetime.now(UTC)
            yesterday = now - timedelta(days=1)
            # Yesterday: seven comments (the daily cap of 10 points stops the sixth at 0
            # and gives the fifth its full 2), a reaction on the next day's total, a cheer.
            events: list[AnyEvent] = [
                *(feedback(tenant, "ben", BuddyFeedbackKind.COMMENT, yesterday) for _ in range(7)),
                feedback(tenant, "ben", BuddyFeedbackKind.CHEER, yesterday),
                feedback(tenant, "ben", BuddyFeedbackKind.REACTION, now),
            ]
            await producer.start()
            for event in events:
                await producer.send_and_wait(
                    event.topic, event.to_json(), key=event.partition_key().encode()
                )

            db = client[database]

            async def earned() -> int:
                doc = await db["standings"].find_one({"_id": f"{tenant}:ben"})
                return int((doc or {}).get("earned") or 0)

            # 10 (capped) yesterday + 2 today; the cheer earns nothing.
            assert await eventually(earned, lambda got: got == 12, timeout=60) == 12
            await asyncio.sleep(1)
            assert await earned() == 12
            ledger = [e async for e in db["ledger"].find({"tenant": tenant})]
            assert {e["rule_id"] for e in ledger} == {"buddy-feedback"}

            # The program team gives feedback more weight from now on.
            changed = await http.post(
                "/api/v1/rules", headers=admin, json={"points": {"share": 10, "buddy-feedback": 5}}
            )
            assert changed.status_code == 201, changed.text
            # The worker reads a tenant's rules again after a couple of seconds.
            await asyncio.sleep(2.5)
            later = feedback(tenant, "ben", BuddyFeedbackKind.COMMENT, datetime.now(UTC))
            await producer.send_and_wait(later.topic, later.to_json(), key=b"x")
            assert await eventually(earned, lambda got: got == 17, timeout=60) == 17
    finally:
        await producer.stop()
        await client.close()
        api.stop()
        worker.stop()
