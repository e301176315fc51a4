"""MongoDB client factory (PyMongo's async API) and the readiness check."""

from __future__ import annotations

from typing import Any

from pymongo import AsyncMongoClient
from pymongo.asynchronous.database import AsyncDatabase


def create_client(url: str, app_name: str) -> AsyncMongoClient[dict[str, Any]]:
    # Short server selection so /readyz and start-up report a missing server quickly
    # instead of waiting the driver's 30 s default.
    return AsyncMongoClient(
        url,
        appname=app_name,
        serverSelectionTimeoutMS=3000,
        connectTimeoutMS=3000,
        tz_aware=True,
    )


async def ping(db: AsyncDatabase[dict[str, Any]]) -> None:
    await db.command("ping")
