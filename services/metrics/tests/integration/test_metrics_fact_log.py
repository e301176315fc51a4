"""The fact log's numbers, on the real database: writers that take turns leave no gap and
never share a number, and a writer idle for a while lands above the head even when the
trim has removed the numbers after its own last entry."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from pymongo import AsyncMongoClient

from metrics.adapters import mongo
from metrics.adapters.mongo import MetricsRepository
from support import MONGODB_URL, ref

FACT = {"_id": "f", "type": "share", "tenant": "t"}


@pytest.fixture
async def database() -> AsyncIterator[object]:
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    name = ref("chorus_metrics_log")
    try:
        yield client[name]
    finally:
        await client.drop_database(name)
        await client.close()


async def append(repo: MetricsRepository, at: datetime) -> int:
    seq = await repo.append_log([FACT], [], at)
    await repo.log_written(seq)
    return seq


async def test_two_writers_taking_turns_leave_no_gap(database) -> None:
    one, two = MetricsRepository(database), MetricsRepository(database)
    now = datetime.now(UTC)
    taken = [await append(writer, now) for _ in range(5) for writer in (one, two, two)]
    assert taken == list(range(1, 16))
    assert await one.log_head() == 15
    assert [entry.seq for entry in await two.log_entries()] == taken


async def test_an_idle_writer_lands_above_the_head_after_a_trim(database, monkeypatch) -> None:
    idle, busy = MetricsRepository(database), MetricsRepository(database)
    old = datetime.now(UTC) - timedelta(minutes=10)
    assert await append(idle, old) == 1
    for _ in range(3):
        await append(busy, old)
    # Every entry is older than the retention: the trim removes them all, numbers 2-4
    # included, so inserting the idle writer's next number would succeed below the head.
    assert await busy.trim_log(datetime.now(UTC) - timedelta(minutes=2)) == 4
    monkeypatch.setattr(mongo, "LOG_NEXT_TRUSTED_SECONDS", 0.0)
    assert await append(idle, datetime.now(UTC)) == 5
