"""Rewards' MongoDB collections: the ledger and the balances."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from chassis import outbox

DUPLICATE_KEY = 11000


class RewardsRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.ledger = db["ledger"]
        self.balances = db["balances"]

    async def ensure_indexes(self) -> None:
        await self.ledger.create_index(
            [("tenant", ASCENDING), ("employee_id", ASCENDING), ("awarded_at", DESCENDING)]
        )
        await outbox.ensure_index(self.ledger)

    async def insert_new(self, entries: list[dict[str, Any]]) -> list[str]:
        """Insert ledger entries; those already there (a redelivery) are skipped.

        Returns the ids that this call inserted."""
        if not entries:
            return []
        try:
            await self.ledger.insert_many(entries, ordered=False)
        except BulkWriteError as exc:
            other = [e for e in exc.details["writeErrors"] if e["code"] != DUPLICATE_KEY]
            if other:
                raise
            duplicates = {entries[e["index"]]["_id"] for e in exc.details["writeErrors"]}
            return [e["_id"] for e in entries if e["_id"] not in duplicates]
        return [e["_id"] for e in entries]

    async def balance(self, tenant: str, employee_id: str) -> int:
        doc = await self.balances.find_one({"_id": f"{tenant}:{employee_id}"}, {"points": 1})
        return int(doc["points"]) if doc else 0

    async def entries(self, tenant: str, employee_id: str, limit: int) -> list[dict[str, Any]]:
        cursor = (
            self.ledger.find(
                {"tenant": tenant, "employee_id": employee_id},
                {outbox.PENDING: 0},
            )
            .sort("awarded_at", DESCENDING)
            .limit(limit)
        )
        return [doc async for doc in cursor]
