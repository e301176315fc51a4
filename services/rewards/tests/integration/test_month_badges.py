""" "Top 10% of the month" against the real servers, with a clock the test moves."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo.asynchronous.database import AsyncDatabase

from chassis.kafka import EventPublisher, make_broker
from chassis.outbox import Outbox
from contracts.topics import BADGE_EARNED
from rewards.adapters.mongo import RewardsRepository
from rewards.domain.months import top_badge_id
from rewards.service_layer import handlers
from support import KAFKA, read_topic, ref, token

JAN = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)
DEC = datetime(2025, 12, 20, 12, 0, tzinfo=UTC)
FEB = datetime(2026, 2, 3, 12, 0, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


class Unreachable:
    """A publisher whose Kafka is away: events stay staged for the relay."""

    async def publish_raw(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("kafka is away")


@pytest.fixture
async def publisher() -> AsyncIterator[EventPublisher]:
    broker = make_broker(KAFKA, "rewards-test")
    await broker.start()
    try:
        yield EventPublisher(broker)
    finally:
        await broker.stop()


def replica(db: AsyncDatabase, publisher: Any, clock: Callable[[], datetime]) -> handlers.Services:
    """One worker's services: its own state, the shared database and Kafka."""
    repo = RewardsRepository(db)
    return handlers.Services(
        repo=repo,
        publisher=publisher,
        unit_outbox=Outbox(repo.units, publisher, 0.2),
        clawback_outbox=Outbox(repo.clawbacks, publisher, 0.2),
        month_badge_outbox=Outbox(repo.month_badges, publisher, 0.2),
        month_end_grace=timedelta(hours=1),
        clock=clock,
    )


def award(tenant: str, employee: str, points: int, at: datetime, rule: str = "share") -> dict:
    source = ref("ev")
    return {
        "_id": ref("award"),
        "tenant": tenant,
        "employee_id": employee,
        "points": points,
        "rule_id": rule,
        "rule_version": 1,
        "reason": "test",
        "source_event_id": source,
        "source_event_type": "io.chorus.post-shared.v1",
        "awarded_at": at,
    }


async def seed(db: AsyncDatabase, tenant: str) -> None:
    """January: 20 employees with points, so 2 places; e00 first, e02 and e03 tied at the
    cutoff; e01 would be second but 40 of their 95 points were clawed back (in February).
    Outside January: e05's December points, e00's February points; e20 earned nothing."""
    ledger = [
        award(tenant, "e00", 100, JAN),
        award(tenant, "e01", 55, JAN),
        award(tenant, "e02", 70, JAN),
        award(tenant, "e03", 30, JAN),
        award(tenant, "e03", 40, JAN + timedelta(days=20)),
        *(award(tenant, f"e{i:02d}", i - 3, JAN) for i in range(4, 20)),
        award(tenant, "e05", 1000, DEC),
        award(tenant, "e00", 1000, FEB),
        award(tenant, "e20", 0, JAN),
    ]
    clawed = award(tenant, "e01", 40, JAN)
    reversal = award(tenant, "e01", -40, FEB, rule="clawback")
    reversal["source_event_id"] = clawed["_id"]
    await db["ledger"].insert_many([*ledger, clawed, reversal])
    await db["clawbacks"].insert_one(
        {
            "_id": clawed["_id"],
            "tenant": tenant,
            "employee_id": "e01",
            "points": 40,
            "awarded_at": JAN,
            "reason": "fraud",
            "by": "a1",
        }
    )


async def badges_on_topic(tenant: str, wanted: int) -> Counter[str]:
    marker = f'"tenantid":"{tenant}"'.encode()

    def mine(records: list[Any]) -> list[Any]:
        return [r for r in records if marker in r.value]

    records = await read_topic(BADGE_EARNED, lambda rs: len(mine(rs)) >= wanted, timeout=30)
    # Read on a little, so a second copy would show.
    await asyncio.sleep(1)
    records = await read_topic(BADGE_EARNED, lambda rs: len(mine(rs)) > wanted, timeout=3)
    return Counter(json.loads(r.value)["id"] for r in mine(records))


async def test_top_tenth_of_each_month_once_per_employee_across_replicas(
    rewards_db: AsyncDatabase, rewards_api: Any, publisher: EventPublisher
) -> None:
    tenant = ref("top")
    await seed(rewards_db, tenant)
    await RewardsRepository(rewards_db).ensure_indexes()
    clock = Clock(datetime(2026, 1, 31, 23, 0, tzinfo=UTC))
    first, second = replica(rewards_db, publisher, clock), replica(rewards_db, publisher, clock)
    # Scoped to this test's tenant: the database is shared with other tests.
    first.tenants = second.tenants = frozenset({tenant})

    # January has not ended: only December is decided.
    assert await handlers.close_months(first) == 1
    # Ended, but within the grace period: still nothing for January.
    clock.now = datetime(2026, 2, 1, 0, 30, tzinfo=UTC)
    assert await handlers.close_months(first) == 0
    assert await rewards_db["month_ends"].find_one({"_id": f"{tenant}:2026-01"}) is None

    # Two replicas close January at once, then a restarted one tries again.
    clock.now = datetime(2026, 2, 1, 1, 0, tzinfo=UTC)
    emitted = await asyncio.gather(handlers.close_months(first), handlers.close_months(second))
    assert sum(emitted) == 3
    restarted = replica(rewards_db, publisher, clock)
    restarted.tenants = frozenset({tenant})
    assert await handlers.close_months(restarted) == 0

    decided = await rewards_db["month_ends"].find_one({"_id": f"{tenant}:2026-01"})
    assert decided is not None
    assert (decided["ranked"], decided["places"], decided["cutoff"]) == (20, 2, 70)
    assert [w["employee_id"] for w in decided["winners"]] == ["e00", "e02", "e03"]

    expected = {
        top_badge_id(tenant, "e05", "2025-12"),
        *(top_badge_id(tenant, e, "2026-01") for e in ("e00", "e02", "e03")),
    }
    stored = [d async for d in rewards_db["month_badges"].find({"tenant": tenant})]
    assert {d["_id"] for d in stored} == expected
    assert all(d["_outbox_n"] == 0 for d in stored)
    on_topic = await badges_on_topic(tenant, len(expected))
    assert set(on_topic) == expected
    assert set(on_topic.values()) == {1}

    async with httpx.AsyncClient(timeout=30) as http:
        mine = await http.get(f"{rewards_api.url}/api/v1/me/badges", headers=token(tenant, "e00"))
    assert mine.status_code == 200, mine.text
    assert [(b["badge"], b["month"]) for b in mine.json()["badges"]] == [
        ("top-10-percent", "2026-01")
    ]


async def test_badges_staged_while_kafka_is_away_are_relayed_once(
    rewards_db: AsyncDatabase, publisher: EventPublisher
) -> None:
    tenant = ref("top-relay")
    await rewards_db["ledger"].insert_many([award(tenant, f"e{i}", 10 + i, JAN) for i in range(12)])
    clock = Clock(datetime(2026, 2, 2, tzinfo=UTC))
    cut_off = replica(rewards_db, Unreachable(), clock)
    cut_off.tenants = frozenset({tenant})
    await handlers.close_months(cut_off)
    badge = top_badge_id(tenant, "e11", "2026-01")
    staged = await rewards_db["month_badges"].find_one({"_id": badge})
    assert staged is not None and staged["_outbox_n"] == 1

    # A healthy replica finds the month decided and the badge staged: it emits nothing
    # itself, and its relay publishes the staged event once the lease has run out.
    healthy = replica(rewards_db, publisher, clock)
    healthy.tenants = frozenset({tenant})
    assert await handlers.close_months(healthy) == 0
    await asyncio.sleep(0.3)
    assert healthy.month_badge_outbox is not None
    while await healthy.month_badge_outbox.relay_once():
        pass
    on_topic = await badges_on_topic(tenant, 1)
    assert on_topic == Counter({badge: 1})
