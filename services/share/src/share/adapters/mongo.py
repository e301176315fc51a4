"""Share's MongoDB collections and the queries on them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chassis import outbox

HIDDEN = {outbox.PENDING: 0, outbox.COUNT: 0, outbox.LEASE: 0}


class ShareRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.content = db["content"]
        self.shares = db["shares"]
        self.advocates = db["advocates"]
        self.guidelines = db["guidelines"]
        self.acknowledgements = db["acknowledgements"]
        self.tenant_settings = db["tenant_settings"]
        self.daily_counts = db["daily_counts"]
        self.click_batches = db["click_batches"]
        self.visits = db["visits"]
        self.engagements = db["engagements"]
        self.tokens = db["network_tokens"]
        self.counted = db["share_counters"]

    async def ensure_indexes(self) -> None:
        await self.shares.create_index([("short_code", ASCENDING)], unique=True)
        await self.shares.create_index(
            [("tenant", ASCENDING), ("employee_id", ASCENDING), ("_id", DESCENDING)]
        )
        await self.shares.create_index(
            [("tenant", ASCENDING), ("content_id", ASCENDING), ("_id", DESCENDING)]
        )
        await self.shares.create_index([("status", ASCENDING), ("scheduled_at", ASCENDING)])
        await self.visits.create_index([("at", ASCENDING)])
        await self.daily_counts.create_index([("day", ASCENDING)])
        for collection in (self.shares, self.advocates, self.click_batches, self.engagements):
            await outbox.ensure_index(collection)

    # -- content and guidelines, as learnt from events ------------------------------------

    async def shareable(self, tenant: str, content_id: str) -> dict[str, Any] | None:
        return await self.content.find_one({"_id": f"{tenant}:{content_id}"})

    async def upsert_content(self, doc_id: str, as_of: datetime, fields: dict[str, Any]) -> None:
        """Apply a content snapshot unless a newer one is already stored."""
        try:
            await self.content.update_one(
                {"_id": doc_id, "$or": [{"as_of": {"$lte": as_of}}, {"as_of": None}]},
                {"$set": {**fields, "as_of": as_of}},
                upsert=True,
            )
        except DuplicateKeyError:
            return  # a newer snapshot is stored; this one is stale

    async def retire_content(self, doc_id: str, tenant: str, fields: dict[str, Any]) -> None:
        # Retirement is final: later snapshots never clear it.
        await self.content.update_one(
            {"_id": doc_id},
            {"$set": fields, "$setOnInsert": {"tenant": tenant}},
            upsert=True,
        )

    async def current_guidelines(self, tenant: str) -> dict[str, Any] | None:
        return await self.guidelines.find_one({"_id": tenant})

    async def store_guidelines(self, tenant: str, version: int, fields: dict[str, Any]) -> None:
        try:
            await self.guidelines.update_one(
                {"_id": tenant, "version": {"$lt": version}},
                {"$set": {**fields, "version": version}},
                upsert=True,
            )
        except DuplicateKeyError:
            return  # this version or a newer one is stored

    async def acknowledged_version(self, tenant: str, employee_id: str) -> int:
        doc = await self.acknowledgements.find_one({"_id": f"{tenant}:{employee_id}"})
        return int(doc["version"]) if doc else 0

    async def acknowledge(self, tenant: str, employee_id: str, version: int) -> None:
        await self.acknowledgements.update_one(
            {"_id": f"{tenant}:{employee_id}"},
            {"$max": {"version": version}, "$set": {"tenant": tenant}},
            upsert=True,
        )

    # -- advocates ----------------------------------------------------------------------

    async def advocate(self, tenant: str, employee_id: str) -> dict[str, Any] | None:
        return await self.advocates.find_one({"_id": f"{tenant}:{employee_id}"}, HIDDEN)

    async def update_advocate(
        self, filter_: dict[str, Any], update: dict[str, Any], *, upsert: bool = False
    ) -> dict[str, Any] | None:
        return await self.advocates.find_one_and_update(
            filter_, update, upsert=upsert, return_document=ReturnDocument.AFTER
        )

    # -- tenant settings and the daily cap ----------------------------------------------

    async def settings(self, tenant: str) -> dict[str, Any]:
        return await self.tenant_settings.find_one({"_id": tenant}) or {}

    async def save_settings(self, tenant: str, fields: dict[str, Any]) -> dict[str, Any]:
        doc = await self.tenant_settings.find_one_and_update(
            {"_id": tenant}, {"$set": fields}, upsert=True, return_document=ReturnDocument.AFTER
        )
        return doc or {}

    async def take_daily_slot(self, key: str, cap: int, day: datetime) -> bool:
        """Count one share against the day's cap; False when the cap is reached."""
        try:
            await self.daily_counts.update_one(
                {"_id": key, "n": {"$lt": cap}},
                {"$inc": {"n": 1}, "$setOnInsert": {"day": day}},
                upsert=True,
            )
        except DuplicateKeyError:
            # The day's document exists and is full, so the upsert tried to insert a twin.
            return False
        return True

    async def give_back_daily_slot(self, key: str) -> None:
        await self.daily_counts.update_one({"_id": key, "n": {"$gt": 0}}, {"$inc": {"n": -1}})

    async def purge(self, now: datetime, visits_before: datetime) -> dict[str, int]:
        """Remove what no rule needs any more (there are no TTL indexes in our subset)."""
        visits = await self.visits.delete_many({"at": {"$lt": visits_before}})
        batches = await self.click_batches.delete_many({outbox.COUNT: 0})
        days = await self.daily_counts.delete_many({"day": {"$lt": now - timedelta(days=2)}})
        return {
            "visits": visits.deleted_count,
            "click_batches": batches.deleted_count,
            "daily_counts": days.deleted_count,
        }

    # -- shares -------------------------------------------------------------------------

    async def share(self, tenant: str, share_id: str) -> dict[str, Any] | None:
        return await self.shares.find_one({"_id": share_id, "tenant": tenant}, HIDDEN)

    async def share_by_code(self, code: str) -> dict[str, Any] | None:
        return await self.shares.find_one({"short_code": code}, HIDDEN)

    async def share_history(
        self, filter_: dict[str, Any], before: str | None, limit: int
    ) -> list[dict[str, Any]]:
        if before is not None:
            filter_ = {**filter_, "_id": {"$lt": before}}
        cursor = self.shares.find(filter_, HIDDEN).sort("_id", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def counters(self, share_ids: list[str]) -> dict[str, dict[str, Any]]:
        return {
            doc["_id"]: doc
            async for doc in self.counted.find({"_id": {"$in": share_ids}}, {"_wm": 0})
        }
