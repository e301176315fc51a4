from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

from support import MONGODB_URL, ServiceProcess, ref


@pytest.fixture(scope="module")
def rewards_database() -> str:
    return ref("chorus_rewards_it_")


@pytest.fixture(scope="module")
def rewards_api(
    rewards_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """The rewards api on a database of its own."""
    api = ServiceProcess(
        "rewards",
        "api",
        env={"REWARDS_DATABASE": rewards_database, "REWARDS_LEADERBOARD_REFRESH_SECONDS": "0.5"},
    ).start(tmp_path_factory.mktemp("rewards-api"))
    try:
        api.wait_healthy()
        yield api
    finally:
        api.stop()


@pytest.fixture
async def rewards_db(rewards_database: str) -> AsyncIterator[AsyncDatabase]:
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        yield client[rewards_database]
    finally:
        await client.close()


@pytest.fixture
def log_dir(tmp_path: Path) -> Path:
    return tmp_path
