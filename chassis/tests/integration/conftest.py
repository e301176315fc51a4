"""The chassis' integration tests: a database of their own on the test server."""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator
from typing import Any

import pytest
from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase

MONGODB_URL = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")


@pytest.fixture
async def db() -> AsyncIterator[AsyncDatabase[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    # The database is left in place: FerretDB 1.x (SQLite) has crashed dropping a database
    # under load, and the test servers start empty anyway (`devstack start --fresh`).
    try:
        yield client[f"chassis_test_{secrets.token_hex(4)}"]
    finally:
        await client.close()
