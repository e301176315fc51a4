"""Steps of the onboarding path earn points: the real worker scores each step by the
rule's points."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from streams import start_group_at_end

from contracts import OnboardingStepCompleted, OnboardingStepCompletedData, derived_event_id
from support import KAFKA, MONGODB_URL, ServiceProcess, eventually, ref


def step(tenant: str, person: str, number: int) -> OnboardingStepCompleted:
    return OnboardingStepCompleted.create(
        tenant_id=tenant,
        subject=person,
        # As content makes it: one id per person and step.
        event_id=derived_event_id(tenant, "onboarding", person, f"s{number}"),
        data=OnboardingStepCompletedData(
            employee_id=person,
            step_id=f"s{number}",
            path_version=1,
            steps_done=number,
            steps_total=3,
            path_completed=number == 3,
            completed_at=datetime.now(UTC),
        ),
    )


async def test_each_step_scores_its_points(tmp_path: Path) -> None:
    tenant, database, group = ref("onb"), ref("chorus_rewards_onb_"), ref("rewards-onb-")
    await start_group_at_end(group)
    env = {
        "REWARDS_DATABASE": database,
        "REWARDS_CONSUMER_GROUP": group,
        "REWARDS_TENANTS": tenant,
    }
    worker = ServiceProcess("rewards", "worker", env=env).start(tmp_path)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        await asyncio.to_thread(worker.wait_healthy)
        await producer.start()
        for event in (step(tenant, "ana", 1), step(tenant, "ana", 2), step(tenant, "ana", 3)):
            await producer.send_and_wait(
                event.topic, event.to_json(), key=event.partition_key().encode()
            )
        db = client[database]

        async def earned() -> int:
            doc = await db["standings"].find_one({"_id": f"{tenant}:ana"})
            return int((doc or {}).get("earned") or 0)

        assert await eventually(earned, lambda got: got == 9, timeout=60) == 9
        await asyncio.sleep(1)
        assert await earned() == 9
        ledger = [e async for e in db["ledger"].find({"tenant": tenant})]
        assert sorted(e["rule_id"] for e in ledger) == ["onboarding-step"] * 3
    finally:
        await producer.stop()
        await client.close()
        worker.stop()
