"""Content's MongoDB collections, every read and write scoped by tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chassis import outbox
from content.domain.feed import SORT

# Internal fields no reader needs: staged events and exactly-once watermarks.
HIDDEN = {outbox.PENDING: 0}


class ContentRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.items = db["items"]
        # Shares per item, counted exactly once per PostShared (watermarked counters).
        self.popularity = db["popularity"]
        # What each employee shared, one document per `<tenant>:<employee>`.
        self.shared = db["shared"]
        self.guidelines = db["guidelines"]
        self.acknowledgements = db["acknowledgements"]
        self.tenants = db["tenants"]
        # Coaching: the onboarding path (one document per tenant), each person's progress
        # on it (one per person, carrying the outbox of its events), and the areas of
        # expertise each person named (one per person).
        self.onboarding = db["onboarding"]
        self.onboarding_progress = db["onboarding_progress"]
        self.expertise = db["expertise"]
        # The feed's change log (see adapters/feed_view.py): a counter per tenant, and
        # what each numbered change touched.
        self.feed_revisions = db["feed_revisions"]
        self.feed_changes = db["feed_changes"]
        # People erased, under `contracts.erasure.person_key` (never their id), with the
        # time of their last erasure: a share made before it and counted late marks nothing.
        self.erasures = db["erasures"]

    async def ensure_indexes(self) -> None:
        await self.items.create_index([("tenant", ASCENDING), ("_id", DESCENDING)])
        await self.items.create_index(
            [("tenant", ASCENDING), ("status", ASCENDING), *[(k, d) for k, d in SORT]]
        )
        await self.items.create_index([("status", ASCENDING), ("publish_at", ASCENDING)])
        await self.items.create_index([("status", ASCENDING), ("expires_at", ASCENDING)])
        await self.feed_changes.create_index([("tenant", ASCENDING), ("seq", ASCENDING)])
        await self.feed_changes.create_index([("at", ASCENDING)])
        await self.guidelines.create_index(
            [("tenant", ASCENDING), ("version", DESCENDING)], unique=True
        )
        await self.acknowledgements.create_index(
            [("tenant", ASCENDING), ("version", ASCENDING), ("employee_id", ASCENDING)]
        )
        await self.onboarding_progress.create_index([("tenant", ASCENDING)])
        await self.expertise.create_index([("tenant", ASCENDING)])
        for collection in (
            self.items,
            self.guidelines,
            self.acknowledgements,
            self.onboarding_progress,
        ):
            await outbox.ensure_index(collection)

    # -- items ----------------------------------------------------------------------------

    async def get(self, tenant: str, content_id: str) -> dict[str, Any] | None:
        return await self.items.find_one({"_id": content_id, "tenant": tenant}, HIDDEN)

    async def find_one(self, query: dict[str, Any]) -> dict[str, Any] | None:
        return await self.items.find_one(query, HIDDEN)

    async def page(
        self, tenant: str, after: str | None, limit: int, filters: dict[str, Any]
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"tenant": tenant, **filters}
        if after:
            query["_id"] = {"$lt": after}
        cursor = self.items.find(query, HIDDEN).sort("_id", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def created_by(
        self, tenant: str, employee_id: str, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Items an employee created (suggestions and own items, any status), newest first."""
        query: dict[str, Any] = {"tenant": tenant, "created_by": employee_id}
        if after:
            query["_id"] = {"$lt": after}
        cursor = self.items.find(query, HIDDEN).sort("_id", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def due(self, query: dict[str, Any], limit: int) -> list[dict[str, Any]]:
        return [doc async for doc in self.items.find(query, HIDDEN).limit(limit)]

    async def write(self, tenant: str, content_id: str, rev: int, update: dict[str, Any]) -> bool:
        """Apply `update` only if the item is still at revision `rev`."""
        result = await self.items.update_one(
            {"_id": content_id, "tenant": tenant, "rev": rev}, update
        )
        return result.matched_count == 1

    # -- sharing ----------------------------------------------------------------------------

    async def existing(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (tenant, content id) pairs that are items of that very tenant."""
        ids = sorted({content_id for _, content_id in keys})
        cursor = self.items.find({"_id": {"$in": ids}}, {"tenant": 1})
        return {(doc["tenant"], doc["_id"]) async for doc in cursor} & keys

    async def popularity_of(self, doc_ids: Sequence[str]) -> list[dict[str, Any]]:
        cursor = self.popularity.find({"_id": {"$in": list(doc_ids)}}, {"_wm": 0})
        return [doc async for doc in cursor]

    async def raise_share_counts(self, counts: Iterable[tuple[str, str, int]]) -> None:
        """Lift each item's share count to what was counted; `$max` makes it idempotent."""
        writes = [
            UpdateOne({"_id": content_id, "tenant": tenant}, {"$max": {"shares": shares}})
            for tenant, content_id, shares in counts
        ]
        if writes:
            await self.items.bulk_write(writes, ordered=True)

    async def mark_shared(self, marks: dict[tuple[str, str], set[str]]) -> None:
        """Remember which items each (tenant, employee) shared; `$addToSet` is idempotent."""
        writes = [
            UpdateOne(
                {"_id": f"{tenant}:{employee}"},
                {
                    "$addToSet": {"content_ids": {"$each": sorted(content_ids)}},
                    "$setOnInsert": {"tenant": tenant, "employee_id": employee},
                },
                upsert=True,
            )
            for (tenant, employee), content_ids in marks.items()
        ]
        if writes:
            await self.shared.bulk_write(writes, ordered=True)

    # -- guidelines and settings -------------------------------------------------------------

    async def current_guidelines(self, tenant: str) -> dict[str, Any] | None:
        cursor = self.guidelines.find({"tenant": tenant}, HIDDEN).sort("version", -1).limit(1)
        return next(iter([doc async for doc in cursor]), None)

    async def guidelines_versions(
        self, tenant: str, before: int | None, limit: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"tenant": tenant}
        if before is not None:
            query["version"] = {"$lt": before}
        cursor = self.guidelines.find(query, HIDDEN).sort("version", -1).limit(limit)
        return [doc async for doc in cursor]

    async def guidelines_version(self, tenant: str, version: int) -> dict[str, Any] | None:
        return await self.guidelines.find_one({"_id": f"{tenant}:{version}"}, HIDDEN)

    async def acknowledgement(
        self, tenant: str, employee: str, version: int
    ) -> dict[str, Any] | None:
        return await self.acknowledgements.find_one(
            {"_id": f"{tenant}:{employee}:{version}"}, HIDDEN
        )

    async def acknowledgements_of(self, tenant: str, employee: str) -> list[dict[str, Any]]:
        """Every guidelines version an employee acknowledged, oldest first."""
        cursor = self.acknowledgements.find(
            {"tenant": tenant, "employee_id": employee}, HIDDEN
        ).sort("version", ASCENDING)
        return [doc async for doc in cursor]

    async def acknowledgements_for(
        self, tenant: str, version: int, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """Who acknowledged one guidelines version, by employee id."""
        query: dict[str, Any] = {"tenant": tenant, "version": version}
        if after is not None:
            query["employee_id"] = {"$gt": after}
        cursor = self.acknowledgements.find(query, HIDDEN).sort("employee_id", ASCENDING)
        return [doc async for doc in cursor.limit(limit)]

    async def unmark_shared(self, tenant: str, employee: str, content_ids: set[str]) -> None:
        """Take back marks (of shares made before an erasure that raced with them)."""
        doc_id = f"{tenant}:{employee}"
        # `$pullAll`: FerretDB 1.x ignores a `$pull` with a condition (it changes nothing).
        await self.shared.update_one(
            {"_id": doc_id}, {"$pullAll": {"content_ids": sorted(content_ids)}}
        )
        await self.shared.delete_one({"_id": doc_id, "content_ids": {"$size": 0}})

    async def shared_by(self, tenant: str, employee: str) -> list[str]:
        """The items an employee shared, as counted from PostShared."""
        doc = await self.shared.find_one({"_id": f"{tenant}:{employee}"})
        return sorted((doc or {}).get("content_ids") or [])

    async def tenant_settings(self, tenant: str) -> dict[str, Any]:
        return await self.tenants.find_one({"_id": tenant}) or {"_id": tenant}

    async def save_tenant_settings(self, tenant: str, fields: dict[str, Any]) -> dict[str, Any]:
        unset = {k: "" for k, v in fields.items() if v is None}
        update: dict[str, Any] = {"$setOnInsert": {"tenant": tenant}}
        if values := {k: v for k, v in fields.items() if v is not None}:
            update["$set"] = values
        if unset:
            update["$unset"] = unset
        await self.tenants.update_one({"_id": tenant}, update, upsert=True)
        return await self.tenant_settings(tenant)

    # -- coaching ---------------------------------------------------------------------------

    async def onboarding_path(self, tenant: str) -> dict[str, Any] | None:
        return await self.onboarding.find_one({"_id": tenant})

    async def save_onboarding_path(self, doc: dict[str, Any], version: int) -> bool:
        """Write the path as version `doc["version"]` if it is still at `version` (0: none
        yet); False when another edit came first."""
        if version == 0:
            try:
                await self.onboarding.insert_one(doc)
            except DuplicateKeyError:
                return False
            return True
        result = await self.onboarding.replace_one({"_id": doc["_id"], "version": version}, doc)
        return result.matched_count == 1

    async def progress_of(self, tenant: str, employee: str) -> dict[str, Any] | None:
        return await self.onboarding_progress.find_one({"_id": f"{tenant}:{employee}"}, HIDDEN)

    async def progress_all(self, tenant: str) -> list[dict[str, Any]]:
        """Every person's progress (the steps they did), for the program team's figures."""
        cursor = self.onboarding_progress.find(
            {"tenant": tenant}, {"_id": 0, "employee_id": 1, "done": 1}
        ).batch_size(1000)
        return [doc async for doc in cursor]

    async def expertise_of(self, tenant: str, employee: str) -> dict[str, Any] | None:
        return await self.expertise.find_one({"_id": f"{tenant}:{employee}"})

    async def save_expertise(self, doc: dict[str, Any]) -> None:
        await self.expertise.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    async def erase_coaching(self, tenant: str, employee: str) -> None:
        """Forget a person's onboarding progress and areas of expertise."""
        await self.onboarding_progress.delete_one({"_id": f"{tenant}:{employee}"})
        await self.expertise.delete_one({"_id": f"{tenant}:{employee}"})

    async def expertise_all(self, tenant: str) -> list[list[str]]:
        cursor = self.expertise.find({"tenant": tenant}, {"_id": 0, "areas": 1}).batch_size(1000)
        return [list(doc.get("areas") or []) async for doc in cursor]

    # -- erasure ----------------------------------------------------------------------------

    async def record_erasure(self, key: str, tenant: str, at: datetime) -> None:
        """Remember that the person under `key` was erased at `at` (the latest erasure
        wins; a redelivery changes nothing)."""
        update = {"$max": {"at": at}, "$setOnInsert": {"tenant": tenant}}
        try:
            await self.erasures.update_one({"_id": key}, update, upsert=True)
        except DuplicateKeyError:
            # Two erasures of one person upserted at once; the document exists now.
            await self.erasures.update_one({"_id": key}, update)

    async def erased_at(self, keys: Iterable[str]) -> dict[str, datetime]:
        """When each of these people (by person key) was last erased; absent if never."""
        wanted = sorted(set(keys))
        if not wanted:
            return {}
        cursor = self.erasures.find({"_id": {"$in": wanted}}, {"at": 1})
        return {doc["_id"]: doc["at"] async for doc in cursor}

    async def forget_shared(self, tenant: str, employee: str) -> None:
        await self.shared.delete_one({"_id": f"{tenant}:{employee}"})

    async def pseudonymise_acknowledgements(self, tenant: str, employee: str, name: str) -> None:
        """Keep each of the person's acknowledgements (admins count them per version) under
        the pseudonym `name`: written under its new `_id`, then the old one deleted, so
        that doing it again after a failure halfway neither loses nor doubles one. A staged
        GuidelinesAcknowledged still unpublished goes with the old document."""
        cursor = self.acknowledgements.find({"tenant": tenant, "employee_id": employee}, HIDDEN)
        for doc in [doc async for doc in cursor]:
            kept = {
                "_id": f"{tenant}:{name}:{doc['version']}",
                "tenant": tenant,
                "employee_id": name,
                "version": doc["version"],
                "acknowledged_at": doc["acknowledged_at"],
            }
            try:
                await self.acknowledgements.insert_one(kept)
            except DuplicateKeyError:
                pass  # written by an earlier attempt
            await self.acknowledgements.delete_one({"_id": doc["_id"]})

    async def pseudonymise_authored(
        self, tenant: str, employee: str, name: str
    ) -> list[dict[str, Any]]:
        """Put `name` in place of the person on the items they authored as an employee (their
        suggestions, their own posts as a leader) and return those items as written now,
        each at a new revision. Items they wrote, approved or commented on as a curator are
        the team's records and keep their name."""
        query = {
            "tenant": tenant,
            "created_by": employee,
            "$or": [{"suggestion": True}, {"leader_post": {"$exists": True}}],
        }
        fields = {"approved_by": 1, "comment_by": 1}
        authored = [doc async for doc in self.items.find(query, fields)]
        written: list[dict[str, Any]] = []
        for doc in authored:
            sets = {"created_by": name}
            sets.update({f: name for f in ("approved_by", "comment_by") if doc.get(f) == employee})
            moved = await self.items.update_one(
                {"_id": doc["_id"], "tenant": tenant, "created_by": employee},
                {"$set": sets, "$inc": {"rev": 1}},
            )
            # Read back rather than `find_one_and_update`: FerretDB 1.x takes no projection
            # there, and the staged events are no reader's business.
            if moved.modified_count and (after := await self.get(tenant, doc["_id"])):
                written.append(after)
        return written
