"""Content's MongoDB collections, every read and write scoped by tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any, NamedTuple

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chassis import outbox
from chassis.kafka import EventPublisher
from chassis.outbox import DocumentWrite, Outbox
from chassis.projection import Delta, apply_exactly_once
from content.domain import model
from content.domain.feed import SORT
from contracts import audience

# Internal fields no reader needs: staged events and exactly-once watermarks.
HIDDEN = {outbox.PENDING: 0}
# Fields of an item the workflow and the store keep to themselves on a save.
KEPT_ON_SAVE = ("_id", "tenant", "rev")


class ShareSeen(NamedTuple):
    """One PostShared of an item, where it was read from (counted once per position)."""

    tenant: str
    content_id: str
    topic: str
    partition: int
    offset: int


def language_phases(languages: Sequence[str]) -> list[dict[str, Any]]:
    """Language filters in feed order, as queries: the viewer's languages, then every other
    item. (The feed itself is served by `LiveItems.page`, which applies the same split.)"""
    if not languages:
        return [{}]
    return [{"language": {"$in": list(languages)}}, {"language": {"$nin": list(languages)}}]


def visibility(viewer: audience.Viewer, now: datetime) -> dict[str, Any]:
    """What an employee may see: published, unexpired, and aimed at them."""
    return {
        "status": model.Status.PUBLISHED.value,
        "live_until": {"$gt": now},
        "aud_groups": {"$in": audience.matches(viewer.groups)},
        "aud_locations": {"$in": audience.matches([viewer.location] if viewer.location else [])},
        "aud_languages": {"$in": audience.language_matches(viewer.languages)},
    }


class ContentRepository:
    """Content's collections. Given a publisher, it also builds the writes of the unit of
    work, each carrying its events in the outbox of its collection."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        publisher: EventPublisher | None = None,
        lease_seconds: float = 30.0,
    ) -> None:
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
        # The collections whose documents carry the events of their writes.
        written = (self.items, self.guidelines, self.acknowledgements, self.onboarding_progress)
        self.outboxes: dict[str, Outbox] = (
            {c.name: Outbox(c, publisher, lease_seconds) for c in written} if publisher else {}
        )

    def _outbox(self, collection: AsyncCollection[dict[str, Any]]) -> Outbox:
        try:
            return self.outboxes[collection.name]
        except KeyError:
            raise RuntimeError("a repository without a publisher only reads") from None

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

    async def visible_item(
        self, tenant: str, content_id: str, viewer: audience.Viewer, now: datetime
    ) -> dict[str, Any] | None:
        """The item, if it is live and aimed at `viewer` at `now`."""
        query = {"_id": content_id, "tenant": tenant, **visibility(viewer, now)}
        return await self.items.find_one(query, HIDDEN)

    async def leader_post_shown(self, tenant: str, url: str) -> bool:
        """Whether the leader's post at `url` is an item of the tenant already."""
        found = await self.items.find_one({"tenant": tenant, "leader_post": url}, {"_id": 1})
        return found is not None

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

    async def due_for_release(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Scheduled items whose publish time has come."""
        query = {"status": model.Status.SCHEDULED.value, "publish_at": {"$lte": now}}
        return [doc async for doc in self.items.find(query, HIDDEN).limit(limit)]

    async def due_for_expiry(self, now: datetime, limit: int) -> list[dict[str, Any]]:
        """Published items whose expiry has come."""
        query = {"status": model.Status.PUBLISHED.value, "expires_at": {"$lte": now}}
        return [doc async for doc in self.items.find(query, HIDDEN).limit(limit)]

    def item_created(self, doc: dict[str, Any]) -> DocumentWrite:
        """Insert a new item; one whose id exists already is a conflict."""
        return DocumentWrite(
            self._outbox(self.items),
            doc["_id"],
            new=doc,
            conflict=f"an item {doc['_id']} exists already",
        )

    def item_saved(
        self, before: dict[str, Any], after: dict[str, Any], unset: Sequence[str] = ()
    ) -> DocumentWrite:
        """Save `after` (its fields that differ from `before`, and `unset` removed) at the
        next revision, if nobody changed the item since `before` was read."""
        sets = {k: v for k, v in after.items() if k not in KEPT_ON_SAVE and before.get(k, ...) != v}
        update: dict[str, Any] = {"$set": sets, "$inc": {"rev": 1}}
        if unset:
            update["$unset"] = {k: "" for k in unset}
        return DocumentWrite(
            self._outbox(self.items),
            before["_id"],
            where={"_id": before["_id"], "tenant": before["tenant"], "rev": before["rev"]},
            update=update,
            conflict="the item changed meanwhile; read it again and retry",
        )

    # -- sharing ----------------------------------------------------------------------------

    async def existing(self, keys: set[tuple[str, str]]) -> set[tuple[str, str]]:
        """Those (tenant, content id) pairs that are items of that very tenant."""
        ids = sorted({content_id for _, content_id in keys})
        cursor = self.items.find({"_id": {"$in": ids}}, {"tenant": 1})
        return {(doc["tenant"], doc["_id"]) async for doc in cursor} & keys

    async def count_shares_once(self, seen: Sequence[ShareSeen]) -> list[tuple[str, str, int]]:
        """Count each share on its item's popularity, none twice however often a batch is
        delivered; (tenant, content id, shares counted) of every item named."""
        deltas = [
            Delta(
                f"{s.tenant}:{s.content_id}",
                s.topic,
                s.partition,
                s.offset,
                {"shares": 1},
                {"tenant": s.tenant, "content_id": s.content_id},
            )
            for s in seen
        ]
        await apply_exactly_once(self.popularity, deltas)
        return await self.popularity_of(sorted({d.doc_id for d in deltas}))

    async def popularity_of(self, doc_ids: Sequence[str]) -> list[tuple[str, str, int]]:
        cursor = self.popularity.find({"_id": {"$in": list(doc_ids)}}, {"_wm": 0})
        return [
            (doc["tenant"], doc["content_id"], int(doc.get("shares", 0))) async for doc in cursor
        ]

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

    def guidelines_published(self, doc: dict[str, Any]) -> DocumentWrite:
        """Insert a new version; one published meanwhile under its number is a conflict."""
        return DocumentWrite(
            self._outbox(self.guidelines),
            doc["_id"],
            new=doc,
            conflict="another version was published meanwhile; retry",
        )

    def acknowledgement_recorded(self, doc: dict[str, Any]) -> DocumentWrite:
        """Insert an acknowledgement; one recorded meanwhile stands, and this one is a
        repeat (it does not land)."""
        return DocumentWrite(
            self._outbox(self.acknowledgements), doc["_id"], new=doc, must_land=False
        )

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

    def step_done(self, tenant: str, employee: str, step_id: str, at: datetime) -> DocumentWrite:
        """Mark a step of the person's progress done at `at`; a step done already is a
        repeat (it does not land)."""
        doc_id = f"{tenant}:{employee}"
        # The filter only matches while the step is not done: a second completion of the
        # same step finds no document, tries to insert one and meets the unique _id.
        return DocumentWrite(
            self._outbox(self.onboarding_progress),
            doc_id,
            where={"_id": doc_id, f"done.{step_id}": {"$exists": False}},
            update={
                "$set": {f"done.{step_id}": at},
                "$setOnInsert": {"tenant": tenant, "employee_id": employee},
            },
            upsert=True,
            must_land=False,
        )

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
