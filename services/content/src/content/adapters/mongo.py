"""Content's MongoDB collections."""

from __future__ import annotations

from typing import Any

from pymongo import DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chassis import outbox


class ContentRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.items = db["items"]

    async def ensure_indexes(self) -> None:
        await self.items.create_index([("tenant", 1), ("_id", DESCENDING)])
        await outbox.ensure_index(self.items)

    async def get(self, tenant: str, content_id: str) -> dict[str, Any] | None:
        return await self.items.find_one({"_id": content_id, "tenant": tenant}, {outbox.PENDING: 0})

    async def page(self, tenant: str, after: str | None, limit: int) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"tenant": tenant}
        if after:
            query["_id"] = {"$lt": after}
        cursor = self.items.find(query, {outbox.PENDING: 0}).sort("_id", DESCENDING).limit(limit)
        return [doc async for doc in cursor]
