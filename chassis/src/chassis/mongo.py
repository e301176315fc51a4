"""MongoDB client factory (PyMongo's async API), the readiness check, and ordered bulk
updates sent in commands of a bounded size."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import AsyncMongoClient, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

# Updates per command of `ordered_updates`. FerretDB 1.24 on PostgreSQL keeps one pooled
# connection per matched update until its command has answered (its update handler closes
# each update's query only when the command returns), and one more for the write: a
# command of 50 matched updates, or commands holding 50 between them, wait for each other
# forever. 25 updates per command keep a command under that, whatever a batch holds. On
# FerretDB with SQLite, writing a rewards batch's 50 standings in two commands instead of
# one stayed within the bench's noise (bench/rewards.py: 0.58 and 0.62 s against 0.43 and
# 0.56 s), as each conditional update costs far more there than a command does.
UPDATES_PER_COMMAND = 25


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


@dataclass(frozen=True, slots=True)
class Updated:
    """What `ordered_updates` did: documents matched, and documents inserted by upserts."""

    matched: int
    upserted: int


async def ordered_updates(
    collection: AsyncCollection[dict[str, Any]],
    updates: Sequence[UpdateOne],
    per_command: int = UPDATES_PER_COMMAND,
) -> Updated:
    """`updates` in order, in commands of at most `per_command` updates.

    As an ordered `bulk_write`: the first update that fails stops the rest, and its
    `BulkWriteError` is raised with the index of that update in `updates`."""
    matched = upserted = 0
    for start in range(0, len(updates), per_command):
        chunk = list(updates[start : start + per_command])
        try:
            result = await collection.bulk_write(chunk, ordered=True)
        except BulkWriteError as exc:
            details = dict(exc.details)
            details["writeErrors"] = [
                {**error, "index": error["index"] + start}
                for error in details.get("writeErrors", [])
            ]
            details["nMatched"] = details.get("nMatched", 0) + matched
            details["nUpserted"] = details.get("nUpserted", 0) + upserted
            raise BulkWriteError(details) from exc
        matched += result.matched_count
        upserted += result.upserted_count
    return Updated(matched, upserted)
