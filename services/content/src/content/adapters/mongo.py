"""Content's MongoDB collections, every read and write scoped by tenant."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, NamedTuple

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chassis import outbox
from chassis.kafka import EventPublisher
from chassis.mongo import ordered_updates
from chassis.outbox import DocumentWrite, Outbox
from chassis.projection import Delta, apply_exactly_once
from content.domain import model
from content.domain.coaching import Expertise, OnboardingPath, Step, StepsDone
from content.domain.feed import SORT, publish_day
from content.domain.guidelines import Acknowledgement, Guidelines, TenantSettings
from content.domain.model import EventDetails, Item, ItemAudience, JobDetails
from contracts import ContentKind, Network, audience

# Internal fields no reader needs: staged events and exactly-once watermarks.
HIDDEN = {outbox.PENDING: 0}
# Fields of an item the workflow and the store keep to themselves on a save.
KEPT_ON_SAVE = ("_id", "tenant", "rev")
# Far enough to sort after any real expiry; stands for "never expires" in one range query.
NEVER = datetime(9999, 12, 31, tzinfo=UTC)
# An item's optional fields, stored only when set.
OPTIONAL = (
    "url",
    "image_url",
    "language",
    "campaign_id",
    "publish_at",
    "expires_at",
    "approved_by",
    "comment",
    "comment_by",
    "published_at",
    "retired_at",
    "leader_post",
)


def _present(values: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


def item_document(item: Item) -> dict[str, Any]:
    """An item as stored, with the fields its queries and the feed's order read: the
    audience as match axes, the end of its time live, the day it went live."""
    aud = item.audience or ItemAudience()
    doc: dict[str, Any] = {
        "_id": item.id,
        "tenant": item.tenant,
        "title": item.title,
        "kind": item.kind.value,
        "status": item.status.value,
        "rev": item.rev,
        "shares": item.shares,
        "suggestion": item.suggestion,
        "created_by": item.created_by,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    if item.summary:
        doc["summary"] = item.summary
    if item.body:
        doc["body"] = item.body
    if item.topics:
        doc["topics"] = list(item.topics)
    doc["suggested_texts"] = {n.value: t for n, t in item.suggested_texts.items()}
    doc["text_variants"] = {n.value: list(v) for n, v in item.text_variants.items()}
    if item.audience is not None:
        doc["audience"] = {
            "groups": list(aud.groups),
            "locations": list(aud.locations),
            "languages": list(aud.languages),
        }
    if item.job is not None:
        job = item.job
        doc["job"] = _present(
            {"location": job.location, "department": job.department, "apply_url": job.apply_url}
        )
    if item.event is not None:
        event = item.event
        doc["event"] = _present(
            {
                "starts_at": event.starts_at,
                "ends_at": event.ends_at,
                "venue": event.venue,
                "online_url": event.online_url,
            }
        )
    doc.update(_present({name: getattr(item, name) for name in OPTIONAL}))
    doc.update(
        aud_groups=audience.axis(aud.groups),
        aud_locations=audience.axis(aud.locations),
        aud_languages=audience.language_axis(aud.languages),
        live_until=item.expires_at or NEVER,
        publish_day=publish_day(item.publish_at or item.created_at),
    )
    return doc


def _item_of(doc: dict[str, Any]) -> Item:
    aud, job, event = doc.get("audience"), doc.get("job"), doc.get("event")
    return Item(
        id=doc["_id"],
        tenant=doc["tenant"],
        title=doc["title"],
        kind=ContentKind(doc["kind"]),
        status=model.Status(doc["status"]),
        created_by=doc["created_by"],
        created_at=doc["created_at"],
        updated_at=doc["updated_at"],
        rev=int(doc.get("rev", 0)),
        summary=doc.get("summary") or "",
        body=doc.get("body") or "",
        topics=tuple(doc.get("topics") or ()),
        suggested_texts={Network(n): t for n, t in (doc.get("suggested_texts") or {}).items()},
        text_variants={Network(n): tuple(v) for n, v in (doc.get("text_variants") or {}).items()},
        audience=None
        if aud is None
        else ItemAudience(
            tuple(aud.get("groups") or ()),
            tuple(aud.get("locations") or ()),
            tuple(aud.get("languages") or ()),
        ),
        job=None
        if job is None
        else JobDetails(job.get("location"), job.get("department"), job.get("apply_url")),
        event=None
        if event is None
        else EventDetails(
            event.get("starts_at"),
            event.get("ends_at"),
            event.get("venue"),
            event.get("online_url"),
        ),
        shares=int(doc.get("shares", 0)),
        suggestion=bool(doc.get("suggestion", False)),
        **{name: doc.get(name) for name in OPTIONAL},
    )


def _guidelines_of(doc: dict[str, Any]) -> Guidelines:
    return Guidelines(
        tenant=doc["tenant"],
        version=int(doc["version"]),
        title=doc["title"],
        body=doc["body"],
        acknowledgement_required=bool(doc["acknowledgement_required"]),
        published_at=doc["published_at"],
        published_by=doc["published_by"],
    )


def _acknowledgement_of(doc: dict[str, Any]) -> Acknowledgement:
    return Acknowledgement(
        doc["tenant"], doc["employee_id"], int(doc["version"]), doc["acknowledged_at"]
    )


def _step_of(doc: dict[str, Any]) -> Step:
    return Step(str(doc["id"]), dict(doc.get("titles") or {}), dict(doc.get("bodies") or {}))


def _path_of(doc: dict[str, Any]) -> OnboardingPath:
    return OnboardingPath(
        tenant=doc.get("tenant", doc["_id"]),
        version=int(doc["version"]),
        steps=tuple(_step_of(step) for step in doc.get("steps") or ()),
        updated_at=doc.get("updated_at"),
        updated_by=doc.get("updated_by"),
    )


def _steps_done_of(doc: dict[str, Any]) -> StepsDone:
    return StepsDone(doc["employee_id"], dict(doc.get("done") or {}))


def _expertise_of(doc: dict[str, Any]) -> Expertise:
    return Expertise(
        tenant=doc["tenant"],
        employee_id=doc["employee_id"],
        areas=tuple(doc.get("areas") or ()),
        stamp=int(doc.get("stamp", 0)),
        updated_at=doc["updated_at"],
    )


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

    async def get(self, tenant: str, content_id: str) -> Item | None:
        doc = await self.items.find_one({"_id": content_id, "tenant": tenant}, HIDDEN)
        return _item_of(doc) if doc is not None else None

    async def visible_item(
        self, tenant: str, content_id: str, viewer: audience.Viewer, now: datetime
    ) -> Item | None:
        """The item, if it is live and aimed at `viewer` at `now`."""
        query = {"_id": content_id, "tenant": tenant, **visibility(viewer, now)}
        doc = await self.items.find_one(query, HIDDEN)
        return _item_of(doc) if doc is not None else None

    async def leader_post_shown(self, tenant: str, url: str) -> bool:
        """Whether the leader's post at `url` is an item of the tenant already."""
        found = await self.items.find_one({"tenant": tenant, "leader_post": url}, {"_id": 1})
        return found is not None

    async def page(
        self, tenant: str, after: str | None, limit: int, filters: dict[str, Any]
    ) -> list[Item]:
        query: dict[str, Any] = {"tenant": tenant, **filters}
        if after:
            query["_id"] = {"$lt": after}
        cursor = self.items.find(query, HIDDEN).sort("_id", DESCENDING).limit(limit)
        return [_item_of(doc) async for doc in cursor]

    async def created_by(
        self, tenant: str, employee_id: str, after: str | None, limit: int
    ) -> list[Item]:
        """Items an employee created (suggestions and own items, any status), newest first."""
        query: dict[str, Any] = {"tenant": tenant, "created_by": employee_id}
        if after:
            query["_id"] = {"$lt": after}
        cursor = self.items.find(query, HIDDEN).sort("_id", DESCENDING).limit(limit)
        return [_item_of(doc) async for doc in cursor]

    async def due_for_release(self, now: datetime, limit: int) -> list[Item]:
        """Scheduled items whose publish time has come."""
        query = {"status": model.Status.SCHEDULED.value, "publish_at": {"$lte": now}}
        return [_item_of(doc) async for doc in self.items.find(query, HIDDEN).limit(limit)]

    async def due_for_expiry(self, now: datetime, limit: int) -> list[Item]:
        """Published items whose expiry has come."""
        query = {"status": model.Status.PUBLISHED.value, "expires_at": {"$lte": now}}
        return [_item_of(doc) async for doc in self.items.find(query, HIDDEN).limit(limit)]

    def item_created(self, item: Item) -> DocumentWrite:
        """Insert a new item; one whose id exists already is a conflict."""
        return DocumentWrite(
            self._outbox(self.items),
            item.id,
            new=item_document(item),
            conflict=f"an item {item.id} exists already",
        )

    def item_saved(self, before: Item, after: Item) -> DocumentWrite:
        """Save `after` (its fields that differ from `before`, and those it no longer has
        removed) at the next revision, if nobody changed the item since `before` was read."""
        old, new = item_document(before), item_document(after)
        sets = {k: v for k, v in new.items() if k not in KEPT_ON_SAVE and old.get(k, ...) != v}
        update: dict[str, Any] = {"$set": sets, "$inc": {"rev": 1}}
        if unset := [k for k in old if k not in new]:
            update["$unset"] = {k: "" for k in unset}
        return DocumentWrite(
            self._outbox(self.items),
            before.id,
            where={"_id": before.id, "tenant": before.tenant, "rev": before.rev},
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
            await ordered_updates(self.items, writes)

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
            await ordered_updates(self.shared, writes)

    # -- guidelines and settings -------------------------------------------------------------

    async def current_guidelines(self, tenant: str) -> Guidelines | None:
        cursor = self.guidelines.find({"tenant": tenant}, HIDDEN).sort("version", -1).limit(1)
        return next(iter([_guidelines_of(doc) async for doc in cursor]), None)

    async def guidelines_versions(
        self, tenant: str, before: int | None, limit: int
    ) -> list[Guidelines]:
        query: dict[str, Any] = {"tenant": tenant}
        if before is not None:
            query["version"] = {"$lt": before}
        cursor = self.guidelines.find(query, HIDDEN).sort("version", -1).limit(limit)
        return [_guidelines_of(doc) async for doc in cursor]

    async def guidelines_version(self, tenant: str, version: int) -> Guidelines | None:
        doc = await self.guidelines.find_one({"_id": f"{tenant}:{version}"}, HIDDEN)
        return _guidelines_of(doc) if doc is not None else None

    def guidelines_published(self, guidelines: Guidelines) -> DocumentWrite:
        """Insert a new version; one published meanwhile under its number is a conflict."""
        doc_id = f"{guidelines.tenant}:{guidelines.version}"
        return DocumentWrite(
            self._outbox(self.guidelines),
            doc_id,
            new={
                "_id": doc_id,
                "tenant": guidelines.tenant,
                "version": guidelines.version,
                "title": guidelines.title,
                "body": guidelines.body,
                "acknowledgement_required": guidelines.acknowledgement_required,
                "published_at": guidelines.published_at,
                "published_by": guidelines.published_by,
            },
            conflict="another version was published meanwhile; retry",
        )

    def acknowledgement_recorded(self, ack: Acknowledgement) -> DocumentWrite:
        """Insert an acknowledgement; one recorded meanwhile stands, and this one is a
        repeat (it does not land)."""
        doc_id = f"{ack.tenant}:{ack.employee_id}:{ack.version}"
        doc = {
            "_id": doc_id,
            "tenant": ack.tenant,
            "employee_id": ack.employee_id,
            "version": ack.version,
            "acknowledged_at": ack.acknowledged_at,
        }
        return DocumentWrite(self._outbox(self.acknowledgements), doc_id, new=doc, must_land=False)

    async def acknowledgement(
        self, tenant: str, employee: str, version: int
    ) -> Acknowledgement | None:
        doc = await self.acknowledgements.find_one(
            {"_id": f"{tenant}:{employee}:{version}"}, HIDDEN
        )
        return _acknowledgement_of(doc) if doc is not None else None

    async def acknowledgements_of(self, tenant: str, employee: str) -> list[Acknowledgement]:
        """Every guidelines version an employee acknowledged, oldest first."""
        cursor = self.acknowledgements.find(
            {"tenant": tenant, "employee_id": employee}, HIDDEN
        ).sort("version", ASCENDING)
        return [_acknowledgement_of(doc) async for doc in cursor]

    async def acknowledgements_for(
        self, tenant: str, version: int, after: str | None, limit: int
    ) -> list[Acknowledgement]:
        """Who acknowledged one guidelines version, by employee id."""
        query: dict[str, Any] = {"tenant": tenant, "version": version}
        if after is not None:
            query["employee_id"] = {"$gt": after}
        cursor = self.acknowledgements.find(query, HIDDEN).sort("employee_id", ASCENDING)
        return [_acknowledgement_of(doc) async for doc in cursor.limit(limit)]

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

    async def tenant_settings(self, tenant: str) -> TenantSettings:
        doc = await self.tenants.find_one({"_id": tenant}) or {}
        return TenantSettings(tenant, disclosure_hashtag=doc.get("disclosure_hashtag"))

    async def save_tenant_settings(self, settings: TenantSettings) -> TenantSettings:
        """Replace the tenant's settings; one set to None is removed."""
        tenant = settings.tenant
        fields = {"disclosure_hashtag": settings.disclosure_hashtag}
        unset = {k: "" for k, v in fields.items() if v is None}
        update: dict[str, Any] = {"$setOnInsert": {"tenant": tenant}}
        if values := {k: v for k, v in fields.items() if v is not None}:
            update["$set"] = values
        if unset:
            update["$unset"] = unset
        await self.tenants.update_one({"_id": tenant}, update, upsert=True)
        return await self.tenant_settings(tenant)

    # -- coaching ---------------------------------------------------------------------------

    async def onboarding_path(self, tenant: str) -> OnboardingPath | None:
        doc = await self.onboarding.find_one({"_id": tenant})
        return _path_of(doc) if doc is not None else None

    async def save_onboarding_path(self, path: OnboardingPath, version: int) -> bool:
        """Write `path` (at its new version) if the stored one is still at `version` (0:
        none yet); False when another edit came first."""
        doc = {
            "_id": path.tenant,
            "tenant": path.tenant,
            "version": path.version,
            "steps": [
                {"id": step.id, "titles": dict(step.titles), "bodies": dict(step.bodies)}
                for step in path.steps
            ],
            "updated_at": path.updated_at,
            "updated_by": path.updated_by,
        }
        if version == 0:
            try:
                await self.onboarding.insert_one(doc)
            except DuplicateKeyError:
                return False
            return True
        result = await self.onboarding.replace_one({"_id": doc["_id"], "version": version}, doc)
        return result.matched_count == 1

    async def progress_of(self, tenant: str, employee: str) -> StepsDone | None:
        doc = await self.onboarding_progress.find_one({"_id": f"{tenant}:{employee}"}, HIDDEN)
        return _steps_done_of(doc) if doc is not None else None

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

    async def progress_all(self, tenant: str) -> list[StepsDone]:
        """Every person's progress (the steps they did), for the program team's figures."""
        cursor = self.onboarding_progress.find(
            {"tenant": tenant}, {"_id": 0, "employee_id": 1, "done": 1}
        ).batch_size(1000)
        return [_steps_done_of(doc) async for doc in cursor]

    async def expertise_of(self, tenant: str, employee: str) -> Expertise | None:
        doc = await self.expertise.find_one({"_id": f"{tenant}:{employee}"})
        return _expertise_of(doc) if doc is not None else None

    async def save_expertise(self, expertise: Expertise) -> None:
        doc_id = f"{expertise.tenant}:{expertise.employee_id}"
        doc = {
            "_id": doc_id,
            "tenant": expertise.tenant,
            "employee_id": expertise.employee_id,
            "areas": list(expertise.areas),
            "stamp": expertise.stamp,
            "updated_at": expertise.updated_at,
        }
        await self.expertise.replace_one({"_id": doc_id}, doc, upsert=True)

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

    async def pseudonymise_authored(self, tenant: str, employee: str, name: str) -> list[Item]:
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
        written: list[Item] = []
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
