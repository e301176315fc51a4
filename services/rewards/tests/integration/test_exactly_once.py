"""Exactly once under SIGKILL: 50,000 events stream in while the worker is killed 10 times."""

from __future__ import annotations

import asyncio
import json
import random
import signal
from collections import Counter, defaultdict
from pathlib import Path

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from pymongo import AsyncMongoClient
from streams import day, end_offsets, engagement, share, start_group_at_end

from contracts import AnyEvent, EngagementKind
from contracts.topics import POINTS_AWARDED
from support import KAFKA, MONGODB_URL, ServiceProcess, eventually, ref, token

EVENTS = 50_000
EMPLOYEES = 20
KILLS = 10


def stream(tenant: str) -> tuple[list[AnyEvent], dict[str, int], int]:
    """The events, and what they must earn: computed here, not by the rules engine.

    50 events per employee and day (220 points) stay under every default cap."""
    events: list[AnyEvent] = []
    expected: dict[str, int] = defaultdict(int)
    awards = 0
    for i in range(EVENTS):
        employee, when, kind = f"e{i % EMPLOYEES}", day(i // 1000), (i // EMPLOYEES) % 5
        if kind in (0, 1):
            events.append(share(tenant, employee, when))
            points = 10
        elif kind == 2:
            events.append(engagement(tenant, employee, when, EngagementKind.CLICK))
            points = 1
        elif kind == 3:
            # A repeat visit: the redirect did not mark it unique, so it earns nothing.
            events.append(engagement(tenant, employee, when, EngagementKind.CLICK, unique=False))
            points = 0
        else:
            events.append(engagement(tenant, employee, when, EngagementKind.REACTION))
            points = 1
        expected[employee] += points
        awards += points > 0
    return events, dict(expected), awards


async def published(
    tenant: str, since: dict[TopicPartition, int], wanted: int
) -> dict[str, list[bytes]]:
    """PointsAwarded of `tenant` on the topic since `since`, by award id."""
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    by_id: dict[str, list[bytes]] = defaultdict(list)
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        marker = f'"tenantid":"{tenant}"'.encode()
        deadline = asyncio.get_running_loop().time() + 60
        while len(by_id) < wanted and asyncio.get_running_loop().time() < deadline:
            for records in (await consumer.getmany(timeout_ms=500, max_records=5000)).values():
                for record in records:
                    if marker in record.value:
                        by_id[json.loads(record.value)["id"]].append(record.value)
    finally:
        await consumer.stop()
    return by_id


# 50,000 events through FerretDB on 2 cores take minutes; the default 300 s is too tight.
@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_every_award_exactly_once_while_the_worker_is_killed(tmp_path: Path) -> None:
    tenant, database, group = ref("once"), ref("chorus_rewards_once_"), ref("rewards-once-")
    events, expected, award_count = stream(tenant)
    await start_group_at_end(group)
    points_since = await end_offsets([POINTS_AWARDED])
    env = {
        "REWARDS_DATABASE": database,
        "REWARDS_CONSUMER_GROUP": group,
        # A worker for this tenant alone: other tests' events on the same topics are read
        # and acknowledged, not scored.
        "REWARDS_TENANTS": tenant,
    }

    def start() -> ServiceProcess:
        worker = ServiceProcess("rewards", "worker", env=env).start(tmp_path)
        worker.wait_healthy()
        return worker

    worker = await asyncio.to_thread(start)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
    await producer.start()

    async def produce() -> None:
        # Streamed over about 20 seconds, so kills land while events are still arriving.
        for start_at in range(0, EVENTS, 2500):
            acks = [
                await producer.send(e.topic, e.to_json(), key=e.partition_key().encode())
                for e in events[start_at : start_at + 2500]
            ]
            await asyncio.gather(*acks)
            await asyncio.sleep(1)

    producing = asyncio.create_task(produce())
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    db = client[database]
    try:
        rng = random.Random()
        for _ in range(KILLS):
            await asyncio.sleep(rng.uniform(1.0, 5.0))
            assert worker.stop(signal.SIGKILL) == -signal.SIGKILL
            worker = await asyncio.to_thread(start)
        await producing

        async def standings() -> dict[str, dict]:
            return {d["employee_id"]: d async for d in db["standings"].find({"tenant": tenant})}

        # Done when every employee's figure is what the stream must earn.
        final = await eventually(
            standings,
            lambda got: {e: d.get("earned") for e, d in got.items()} == expected,
            timeout=240,
        )
        assert len(final) == EMPLOYEES

        # The balances as employees see them.
        api = ServiceProcess("rewards", "api", env=env).start(tmp_path)
        try:
            await asyncio.to_thread(api.wait_healthy)
            async with httpx.AsyncClient(timeout=30) as http:
                balances = {}
                for employee in expected:
                    mine = await http.get(
                        f"{api.url}/api/v1/me/points", headers=token(tenant, employee)
                    )
                    balances[employee] = mine.json()["balance"]
        finally:
            api.stop()
        assert balances == expected

        ledger = [d async for d in db["ledger"].find({"tenant": tenant})]
        assert len(ledger) == award_count
        sums: dict[str, int] = defaultdict(int)
        for entry in ledger:
            sums[entry["employee_id"]] += entry["points"]
        assert sums == expected
        per_source = Counter((e["rule_id"], e["source_event_id"]) for e in ledger)
        assert max(per_source.values()) == 1

        # On the topic every award is there; a crash between publishing a batch and moving
        # its watermarks publishes it again, with the same ids and the very same bytes, which
        # consumers (idempotent by event id) count once.
        on_topic = await published(tenant, points_since, len(ledger))
        assert set(on_topic) == {e["_id"] for e in ledger}
        assert all(len(set(copies)) == 1 for copies in on_topic.values())
    finally:
        producing.cancel()
        await producer.stop()
        worker.stop()
        # The database is left in place: dropping one on the MongoDB-wire server we test
        # with while other clients read it can bring the server down.
        await client.close()
