"""Share's MongoDB collections: its copy of shareable content, and the shares."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase

from chassis import outbox


class ShareRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.content = db["content"]
        self.shares = db["shares"]

    async def ensure_indexes(self) -> None:
        await self.shares.create_index([("short_code", ASCENDING)], unique=True)
        await self.shares.create_index([("tenant", ASCENDING), ("employee_id", ASCENDING)])
        await outbox.ensure_index(self.shares)

    async def shareable(self, tenant: str, content_id: str) -> dict[str, Any] | None:
        return await self.content.find_one({"_id": f"{tenant}:{content_id}"})

    async def share(self, tenant: str, share_id: str) -> dict[str, Any] | None:
        return await self.shares.find_one({"_id": share_id, "tenant": tenant}, {outbox.PENDING: 0})
