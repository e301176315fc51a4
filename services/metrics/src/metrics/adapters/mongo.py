"""Metrics' read models."""

from __future__ import annotations

from typing import Any

from pymongo import ASCENDING
from pymongo.asynchronous.database import AsyncDatabase


class FiguresRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.tenant_days = db["tenant_days"]

    async def ensure_indexes(self) -> None:
        await self.tenant_days.create_index([("tenant", ASCENDING), ("day", ASCENDING)])

    async def totals(self, tenant: str, start: str | None, end: str | None) -> dict[str, int]:
        match: dict[str, Any] = {"tenant": tenant}
        if start or end:
            match["day"] = {k: v for k, v in (("$gte", start), ("$lte", end)) if v}
        totals: dict[str, int] = {}
        async for doc in self.tenant_days.find(match, {"_wm": 0, "_id": 0, "tenant": 0, "day": 0}):
            for name, value in doc.items():
                if isinstance(value, int | float):
                    totals[name] = totals.get(name, 0) + int(value)
        return totals
