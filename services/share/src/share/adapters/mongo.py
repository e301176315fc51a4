"""Share's MongoDB collections and the queries on them."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from pymongo import ASCENDING, DESCENDING, ReturnDocument, UpdateOne
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chassis import outbox
from chassis.mongo import ordered_updates
from chassis.outbox import DocumentWrite, Outbox
from chassis.projection import Delta, apply_exactly_once
from contracts import ContentKind, MeasurementSource, Network, ShareMethod
from contracts.audience import Audience, Viewer
from contracts.erasure import person_key
from share.domain.advocates import (
    Advocate,
    AdvocateStatus,
    ConnectedNetwork,
    DailyCount,
    Erased,
    NetworkToken,
    UnfinishedErasure,
)
from share.domain.connectors import Connector
from share.domain.content import ContentItem, Guidelines
from share.domain.followers import FollowersMeasurement
from share.domain.settings import TenantSettings
from share.domain.shares import Share, ShareStatus
from share.domain.variants import VariantOffer

# Up to this many short codes are looked up one by one (`shares_by_code`).
CODES_ONE_BY_ONE = 32
HIDDEN = {outbox.PENDING: 0, outbox.COUNT: 0, outbox.LEASE: 0}
# An erased person's record in `advocates`: `erased:<person_key>`, the id never stored.
ERASED_PREFIX = "erased:"


def erased_id(tenant: str, employee_id: str) -> str:
    return ERASED_PREFIX + person_key(tenant, employee_id)


def advocate_key(tenant: str, employee_id: str) -> str:
    """The advocate's document, by which its staged events are published."""
    return f"{tenant}:{employee_id}"


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
        self.variant_uses = db["variant_uses"]
        self.variant_offers = db["variant_offers"]
        self.followers = db["company_followers"]
        self.connectors = db["connectors"]

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
        await self.variant_offers.create_index([("tenant", ASCENDING), ("employee_id", ASCENDING)])
        await self.variant_uses.create_index([("key", ASCENDING), ("variant", ASCENDING)])
        await self.followers.create_index([("tenant", ASCENDING), ("measured_at", DESCENDING)])
        await self.connectors.create_index([("tenant", ASCENDING), ("created_at", ASCENDING)])
        # The retention job's deletions, per tenant by age (and for the rest of the tenants).
        await self.engagements.create_index([("tenant", ASCENDING), ("received_at", ASCENDING)])
        for collection in (
            self.shares,
            self.advocates,
            self.click_batches,
            self.engagements,
            self.followers,
        ):
            await outbox.ensure_index(collection)

    # -- content and guidelines, as learnt from events ------------------------------------

    async def shareable(self, tenant: str, content_id: str) -> ContentItem | None:
        doc = await self.content.find_one({"_id": f"{tenant}:{content_id}"})
        return _content_of(doc, content_id) if doc is not None else None

    async def apply_content(
        self,
        snapshots: dict[str, tuple[datetime, dict[str, Any]]],
        retirements: dict[str, tuple[str, dict[str, Any]]],
    ) -> None:
        """Store the newest snapshot of each item and mark retirements, in bulk.

        Snapshots older than the stored one are dropped; retirement is final (snapshots
        never clear it). The writes are conditional on what was read, and a write that
        finds it changed fails the batch, which is then delivered again.
        """
        writes: list[UpdateOne] = []
        if snapshots:
            found = self.content.find({"_id": {"$in": list(snapshots)}}, {"as_of": 1})
            stored = {doc["_id"]: doc.get("as_of") async for doc in found}
            for doc_id, (as_of, fields) in snapshots.items():
                update = {"$set": {**fields, "as_of": as_of}}
                current: datetime | None = stored.get(doc_id)
                if doc_id not in stored:
                    writes.append(UpdateOne({"_id": doc_id}, update, upsert=True))
                elif current is None or current <= as_of:
                    # Equality with null also matches a missing field (retired first).
                    writes.append(UpdateOne({"_id": doc_id, "as_of": current}, update))
        for doc_id, (tenant, fields) in retirements.items():
            writes.append(
                UpdateOne(
                    {"_id": doc_id},
                    {"$set": fields, "$setOnInsert": {"tenant": tenant}},
                    upsert=True,
                )
            )
        if not writes:
            return
        result = await ordered_updates(self.content, writes)
        if result.matched + result.upserted < len(writes):
            raise RuntimeError("content copies changed concurrently; the batch will come again")

    async def current_guidelines(self, tenant: str) -> Guidelines | None:
        doc = await self.guidelines.find_one({"_id": tenant})
        if doc is None:
            return None
        return Guidelines(
            version=int(doc["version"]),
            title=doc.get("title") or "",
            acknowledgement_required=bool(doc.get("acknowledgement_required")),
            published_at=doc.get("published_at"),
        )

    async def apply_guidelines(self, versions: dict[str, tuple[int, dict[str, Any]]]) -> None:
        """Keep each tenant's newest guidelines version."""
        if not versions:
            return
        found = self.guidelines.find({"_id": {"$in": list(versions)}}, {"version": 1})
        stored = {doc["_id"]: int(doc["version"]) async for doc in found}
        writes = []
        for tenant, (version, fields) in versions.items():
            update = {"$set": {**fields, "version": version}}
            if tenant not in stored:
                writes.append(UpdateOne({"_id": tenant}, update, upsert=True))
            elif stored[tenant] < version:
                writes.append(UpdateOne({"_id": tenant, "version": stored[tenant]}, update))
        if writes:
            result = await ordered_updates(self.guidelines, writes)
            if result.matched + result.upserted < len(writes):
                raise RuntimeError("guidelines changed concurrently; the batch will come again")

    async def acknowledged_version(self, tenant: str, employee_id: str) -> int:
        doc = await self.acknowledgements.find_one({"_id": f"{tenant}:{employee_id}"})
        return int(doc["version"]) if doc else 0

    async def apply_acknowledgements(
        self, versions: dict[tuple[str, str], tuple[int, datetime]]
    ) -> None:
        """Keep each person's highest acknowledged version (with when they acknowledged it
        last), unless they were erased after it: a late event does not bring them back."""
        if not versions:
            return
        erased = await self.erasures_of(list(versions))
        writes = [
            UpdateOne(
                {"_id": f"{tenant}:{employee_id}"},
                {"$max": {"version": version}, "$set": {"tenant": tenant}},
                upsert=True,
            )
            for (tenant, employee_id), (version, at) in versions.items()
            if (tenant, employee_id) not in erased or at > erased[tenant, employee_id]
        ]
        if writes:
            await ordered_updates(self.acknowledgements, writes)

    # -- advocates ----------------------------------------------------------------------

    async def advocate(self, tenant: str, employee_id: str) -> Advocate | None:
        doc = await self.advocates.find_one({"_id": advocate_key(tenant, employee_id)}, HIDDEN)
        return _advocate_of(doc) if doc is not None else None

    async def advocate_with_pending(
        self, tenant: str, employee_id: str
    ) -> tuple[Advocate, bool] | None:
        """The advocate, and whether events of theirs are staged and not yet published."""
        doc = await self.advocates.find_one(
            {"_id": advocate_key(tenant, employee_id)}, {outbox.PENDING: 0, outbox.LEASE: 0}
        )
        return (_advocate_of(doc), bool(doc.get(outbox.COUNT))) if doc is not None else None

    async def enrolled_viewers(self, tenant: str) -> list[Viewer]:
        """The targeting claims of every enrolled advocate, as they last joined."""
        cursor = self.advocates.find(
            {"tenant": tenant, "status": "enrolled"},
            {"_id": 0, "groups": 1, "location": 1, "languages": 1},
        )
        return [
            Viewer(
                frozenset(doc.get("groups") or ()),
                doc.get("location"),
                tuple(doc.get("languages") or ()),
            )
            async for doc in cursor
        ]

    def advocate_saved(
        self, box: Outbox, before: Advocate | None, after: Advocate
    ) -> DocumentWrite:
        """The advocate's new state `after`, written only over the state `before` it was
        computed from (none: only if there is no advocate yet); its revision counts up."""
        doc_id = advocate_key(after.tenant, after.employee_id)
        fields = _advocate_fields(after)
        return DocumentWrite(
            box,
            doc_id,
            where={
                "_id": doc_id,
                "rev": before.rev if before else {"$exists": False},
            },
            update={"$set": fields, "$inc": {"rev": 1}},
            upsert=before is None,
            conflict="the advocate changed concurrently; try again",
        )

    # -- erased people ------------------------------------------------------------------
    # An erasure first writes the advocate's document as opted out with the pseudonym of
    # its AdvocateOptedOut (`pseudonym`), its event in the same write; then it renames or
    # deletes the person's other records, and last it moves what must be remembered to
    # `erased:<person_key>` (when they were erased, the pseudonym, the directory version
    # deleted) and deletes the advocate's document. A document with `pseudonym` is an
    # erasure not finished yet.

    async def erased(self, tenant: str, employee_id: str) -> Erased | None:
        """What is remembered of an erased person, found by their id, which it never names."""
        doc = await self.advocates.find_one({"_id": erased_id(tenant, employee_id)}, HIDDEN)
        if doc is None:
            return None
        return Erased(
            doc["opted_out_at"],
            doc["pseudonym"],
            doc.get("deleted_version"),
            doc.get("request_id"),
        )

    async def erasures_of(self, people: list[tuple[str, str]]) -> dict[tuple[str, str], datetime]:
        """When each of these people (tenant, employee id) was last erased, if ever."""
        ids = {
            erased_id(tenant, employee_id): (tenant, employee_id) for tenant, employee_id in people
        }
        found = self.advocates.find({"_id": {"$in": list(ids)}}, {"opted_out_at": 1})
        return {ids[doc["_id"]]: doc["opted_out_at"] async for doc in found}

    async def remember_erasure(self, tenant: str, employee_id: str, advocate: Advocate) -> None:
        """Keep what must outlive the advocate's document of an erasure; idempotent."""
        update: dict[str, Any] = {
            "$set": {
                "tenant": tenant,
                "status": "erased",
                "opted_out_at": advocate.opted_out_at,
                "pseudonym": advocate.pseudonym,
                "request_id": advocate.erasure_request,
            }
        }
        if advocate.deleted_version is not None:
            # A deletion by HR is announced once, whatever came before or comes again.
            update["$max"] = {"deleted_version": advocate.deleted_version}
        await self.advocates.update_one(
            {"_id": erased_id(tenant, employee_id)}, update, upsert=True
        )

    async def drop_erased_advocate(self, tenant: str, employee_id: str, name: str) -> bool:
        """Delete the advocate's document of the erasure under `name` once its events are out."""
        done = await self.advocates.delete_one(
            {
                "_id": f"{tenant}:{employee_id}",
                "pseudonym": name,
                "$or": [{outbox.COUNT: 0}, {outbox.COUNT: {"$exists": False}}],
            }
        )
        return done.deleted_count == 1

    async def unfinished_erasures(self, started_before: datetime) -> list[UnfinishedErasure]:
        """Erasures begun before `started_before` and not finished (a crash cut them short)."""
        found = self.advocates.find(
            {
                "status": "opted_out",
                "pseudonym": {"$exists": True},
                "opted_out_at": {"$lt": started_before},
            },
            {"tenant": 1, "employee_id": 1, "pseudonym": 1},
        )
        return [
            UnfinishedErasure(doc["tenant"], doc["employee_id"], doc["pseudonym"])
            async for doc in found.limit(100)
        ]

    async def erase_shares(self, tenant: str, employee_id: str, name: str) -> None:
        """An erased person's shares go by `name` and describe them no more. What others
        count stays (content, network, campaign, groups, times, counters), and so does the
        short link: it keeps leading where it led, and its clicks no longer count."""
        await self.shares.update_many(
            {"tenant": tenant, "employee_id": employee_id},
            {
                "$set": {"employee_id": name, "stopped": True},
                # Their location and languages, and the network's handle on their post.
                "$unset": {"viewer": "", "network_post_id": ""},
            },
        )

    async def erase_records(self, tenant: str, employee_id: str, name: str) -> None:
        """Everything else of share's own that names an erased person."""
        days = [doc["_id"] for doc in await self._daily_counts_of(tenant, employee_id)]
        if days:
            await self.daily_counts.delete_many({"_id": {"$in": days}})
        await self.acknowledgements.delete_one({"_id": f"{tenant}:{employee_id}"})
        await self.variant_offers.delete_many({"tenant": tenant, "employee_id": employee_id})
        # Follower counts an admin recorded stay, under the pseudonym.
        await self.followers.update_many(
            {"tenant": tenant, "recorded_by": employee_id}, {"$set": {"recorded_by": name}}
        )

    # -- engagement connectors (their secrets are derived, never stored) ------------------

    async def connectors_of(self, tenant: str) -> list[Connector]:
        found = self.connectors.find({"tenant": tenant}).sort("created_at", ASCENDING)
        return [_connector_of(doc) async for doc in found]

    async def connector(self, tenant: str, connector_id: str) -> Connector | None:
        doc = await self.connectors.find_one({"_id": connector_id, "tenant": tenant})
        return _connector_of(doc) if doc is not None else None

    async def count_connectors(self, tenant: str) -> int:
        return await self.connectors.count_documents({"tenant": tenant})

    async def add_connector(self, connector: Connector) -> None:
        await self.connectors.insert_one(
            {
                "_id": connector.id,
                "tenant": connector.tenant,
                "name": connector.name,
                "version": connector.version,
                "created_at": connector.created_at,
            }
        )

    async def rotate_connector(
        self, tenant: str, connector_id: str, at: datetime
    ) -> Connector | None:
        """Bump the connector's version (its secret with it); None if it does not exist."""
        doc = await self.connectors.find_one_and_update(
            {"_id": connector_id, "tenant": tenant},
            {"$inc": {"version": 1}, "$set": {"rotated_at": at}},
            return_document=ReturnDocument.AFTER,
        )
        return _connector_of(doc) if doc is not None else None

    async def delete_connector(self, tenant: str, connector_id: str) -> bool:
        deleted = await self.connectors.delete_one({"_id": connector_id, "tenant": tenant})
        return deleted.deleted_count == 1

    # -- tenant settings and the daily cap ----------------------------------------------

    async def settings(self, tenant: str) -> TenantSettings:
        return _settings_of(await self.tenant_settings.find_one({"_id": tenant}) or {})

    async def save_settings(self, tenant: str, fields: Mapping[str, object]) -> TenantSettings:
        """Set these of the tenant's settings (named as `TenantSettings` names them)."""
        doc = await self.tenant_settings.find_one_and_update(
            {"_id": tenant},
            {"$set": dict(fields)},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        return _settings_of(doc or {})

    async def retentions(self) -> dict[str, int]:
        """The tenants that set how long engagement is kept, with their days."""
        found = self.tenant_settings.find(
            {"detail_retention_days": {"$gt": 0}}, {"detail_retention_days": 1}
        )
        return {doc["_id"]: int(doc["detail_retention_days"]) async for doc in found}

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

    async def share(self, tenant: str, share_id: str) -> Share | None:
        doc = await self.shares.find_one({"_id": share_id, "tenant": tenant}, HIDDEN)
        return _share_of(doc) if doc is not None else None

    async def share_by_code(self, tenant: str, code: str) -> Share | None:
        doc = await self.shares.find_one({"short_code": code, "tenant": tenant}, HIDDEN)
        return _share_of(doc) if doc is not None else None

    async def existing_shares(self, share_ids: Sequence[str]) -> set[str]:
        """Those of `share_ids` that this database holds: one query for them all."""
        found = self.shares.find({"_id": {"$in": list(share_ids)}}, {"_id": 1})
        return {doc["_id"] async for doc in found}

    async def shares_by_code(self, codes: Sequence[str]) -> dict[str, Share]:
        """The shares of those `codes` that exist, by code.

        A few codes are looked up one equality query each, at once; more in one `$in`.
        The MongoDB-wire server we run locally (FerretDB on PostgreSQL) hands an equality
        to PostgreSQL but answers `$in` by reading the whole collection: with 1,500 shares,
        about 2 ms a code against 180 ms for any `$in`, growing with the collection.
        MongoDB answers both from the index."""
        if len(codes) <= CODES_ONE_BY_ONE:
            docs = await asyncio.gather(
                *(self.shares.find_one({"short_code": code}, HIDDEN) for code in codes)
            )
            return {doc["short_code"]: _share_of(doc) for doc in docs if doc is not None}
        found = self.shares.find({"short_code": {"$in": list(codes)}}, HIDDEN)
        return {doc["short_code"]: _share_of(doc) async for doc in found}

    async def share_history(
        self,
        tenant: str,
        employee_id: str | None,
        content_id: str | None,
        before: str | None,
        limit: int,
    ) -> list[Share]:
        """A tenant's shares, of one advocate or one content item if given, newest first."""
        filter_: dict[str, Any] = {"tenant": tenant}
        if employee_id is not None:
            filter_["employee_id"] = employee_id
        if content_id is not None:
            filter_["content_id"] = content_id
        if before is not None:
            filter_["_id"] = {"$lt": before}
        cursor = self.shares.find(filter_, HIDDEN).sort("_id", DESCENDING).limit(limit)
        return [_share_of(doc) async for doc in cursor]

    def share_created(self, box: Outbox, share: Share) -> DocumentWrite:
        """A new share; its short code taken already is a conflict (draw another)."""
        return DocumentWrite(
            box, share.id, new=_share_doc(share), conflict="could not allocate a short code"
        )

    def share_posted(
        self, box: Outbox, share_id: str, shared_at: datetime, network_post_id: str
    ) -> DocumentWrite:
        """The network took the post: the share is shared and no worker's claim any more."""
        return DocumentWrite(
            box,
            share_id,
            update={
                "$set": {
                    "status": "shared",
                    "shared_at": shared_at,
                    "network_post_id": network_post_id,
                },
                "$unset": {"claimed_until": ""},
            },
            must_land=False,
        )

    async def mark_share_failed(self, share_id: str, reason: str) -> None:
        await self.shares.update_one(
            {"_id": share_id}, {"$set": {"status": "failed", "reason": reason}}
        )

    async def claim_due_share(self, now: datetime, until: datetime) -> Share | None:
        """Claim one scheduled share that is due (or whose worker died posting it) until
        `until`; None when there is none."""
        doc = await self.shares.find_one_and_update(
            {
                "$or": [
                    {"status": "scheduled", "scheduled_at": {"$lte": now}},
                    # A worker that died while posting left its claim behind.
                    {"status": "posting", "claimed_until": {"$lte": now}},
                ]
            },
            {"$set": {"status": "posting", "claimed_until": until}},
            return_document=ReturnDocument.AFTER,
        )
        return _share_of(doc) if doc is not None else None

    async def cancel_posting_share(self, share_id: str, reason: str) -> None:
        """A claimed scheduled share is not posted after all."""
        await self.shares.update_one(
            {"_id": share_id, "status": "posting"},
            {"$set": {"status": "cancelled", "reason": reason}},
        )

    async def stop_shares_of(self, tenant: str, employee_id: str) -> None:
        """The person left: scheduled shares are cancelled, and the clicks on links already
        out there (which keep redirecting) no longer count."""
        owned = {"tenant": tenant, "employee_id": employee_id}
        await self.shares.update_many(
            {**owned, "status": "scheduled"},
            {"$set": {"status": "cancelled", "reason": "opted out"}},
        )
        await self.shares.update_many(owned, {"$set": {"stopped": True}})

    # -- engagements ----------------------------------------------------------------------

    def engagement_recorded(self, box: Outbox, doc: dict[str, Any]) -> DocumentWrite:
        """A reported engagement, once: a repeat of its id does not land."""
        return DocumentWrite(box, doc["_id"], new=doc, must_land=False)

    async def forget_engagements(
        self, before: Mapping[str, datetime], others_before: datetime
    ) -> int:
        """Delete the engagement reports received before the moment of their tenant in
        `before`, or of any other tenant before `others_before`; one whose event is still
        to be published stays. Returns how many went."""
        deleted = 0
        for tenant, moment in before.items():
            gone = await self.engagements.delete_many(
                {"tenant": tenant, "received_at": {"$lt": moment}, outbox.COUNT: 0}
            )
            deleted += gone.deleted_count
        gone = await self.engagements.delete_many(
            {
                "tenant": {"$nin": list(before)},
                "received_at": {"$lt": others_before},
                outbox.COUNT: 0,
            }
        )
        return deleted + gone.deleted_count

    async def count_engagements(
        self, counts: list[tuple[str, str, int, int, dict[str, int | float]]]
    ) -> None:
        """Add to each share's counters, each (share id, topic, partition, offset, amounts)
        once however often it comes."""
        await apply_exactly_once(
            self.counted,
            [
                Delta(share_id, topic, partition, offset, inc)
                for share_id, topic, partition, offset, inc in counts
            ],
        )

    async def known_shares(self, share_ids: set[str]) -> set[str]:
        found = self.shares.find({"_id": {"$in": list(share_ids)}}, {"_id": 1})
        return {doc["_id"] async for doc in found}

    async def counters(self, share_ids: list[str]) -> dict[str, dict[str, int]]:
        """Each share's engagement counted so far, by kind (shares without any left out)."""
        return {
            doc["_id"]: {k: int(v) for k, v in doc.items() if k != "_id"}
            async for doc in self.counted.find({"_id": {"$in": share_ids}}, {"_wm": 0})
        }

    # -- one person's data, for its download -----------------------------------------------

    async def daily_counts_of(self, tenant: str, employee_id: str) -> list[DailyCount]:
        """The day counters of the daily cap still kept, by day."""
        found = await self._daily_counts_of(tenant, employee_id)
        return sorted(
            (DailyCount(doc["_id"][-10:], int(doc.get("n", 0))) for doc in found),
            key=lambda count: count.day,
        )

    async def _daily_counts_of(self, tenant: str, employee_id: str) -> list[dict[str, Any]]:
        """The day counters' documents (`<tenant>:<employee>:<YYYY-MM-DD>`)."""
        prefix = f"{tenant}:{employee_id}:"
        # A range on `_id` rather than a regular expression: both servers take it as is.
        found = self.daily_counts.find({"_id": {"$gt": prefix, "$lt": prefix + "\uffff"}})
        # Another employee's id may begin with this one's and a colon: only a day may follow.
        return [
            doc
            async for doc in found
            if len(rest := doc["_id"][len(prefix) :]) == 10 and _is_day(rest)
        ]

    async def network_tokens_of(self, tenant: str, employee_id: str) -> list[NetworkToken]:
        """What is kept of an employee's posting tokens, without the tokens themselves."""
        found = self.tokens.find(
            {"tenant": tenant, "employee_id": employee_id}, {"author": 1, "expires_at": 1}
        )
        # The document is `<tenant>:<employee>:<network>`.
        return [
            NetworkToken(doc["_id"].rsplit(":", 1)[-1], doc.get("author"), doc.get("expires_at"))
            async for doc in found
        ]

    # -- variants of a suggested text: how often each was used, and by whom ------------
    # `variant_uses` holds one document per use of a variant, `_id` "<key>:<variant>:<n>"
    # for its n-th use (key: "<tenant>:<content>:<network>"). A use is counted by inserting
    # the next number: the unique `_id` lets only one of two colleagues counting at the same
    # moment have it. (FerretDB loses concurrent `$inc`s and does not hold a filter on a
    # field while it updates, so neither a counter nor a revision check would do.)
    # `variant_offers` holds what each person got, `_id` "<key>:<employee>".

    async def variant_offer(self, key: str, employee_id: str) -> VariantOffer | None:
        doc = await self.variant_offers.find_one({"_id": f"{key}:{employee_id}"})
        return _offer_of(doc) if doc is not None else None

    async def variant_uses_of(self, key: str, count: int) -> list[int]:
        """How often each of `count` variants was used."""
        used = [0] * count
        grouped = await self.variant_uses.aggregate(
            [{"$match": {"key": key}}, {"$group": {"_id": "$variant", "n": {"$sum": 1}}}]
        )
        async for row in grouped:
            if isinstance(row["_id"], int) and 0 <= row["_id"] < count:
                used[row["_id"]] = int(row["n"])
        return used

    async def claim_variant_use(self, key: str, variant: int, number: int) -> bool:
        """Count the `number`-th use of `variant`; False if someone counted it first."""
        try:
            await self.variant_uses.insert_one(
                {"_id": f"{key}:{variant}:{number}", "key": key, "variant": variant}
            )
        except DuplicateKeyError:
            return False
        return True

    async def save_variant_offer(
        self, key: str, tenant: str, employee_id: str, variant: int, shared: bool
    ) -> VariantOffer:
        """Record the person's variant; a concurrent request of theirs may have won."""
        doc = {
            "_id": f"{key}:{employee_id}",
            "tenant": tenant,
            "employee_id": employee_id,
            "variant": variant,
            "shared": shared,
        }
        try:
            await self.variant_offers.insert_one(doc)
        except DuplicateKeyError:
            found = await self.variant_offers.find_one({"_id": doc["_id"]})
            return _offer_of(found or doc)
        return _offer_of(doc)

    async def change_variant_offer(
        self, key: str, employee_id: str, variant: int, shared: bool
    ) -> None:
        await self.variant_offers.update_one(
            {"_id": f"{key}:{employee_id}"}, {"$set": {"variant": variant, "shared": shared}}
        )

    # -- the company page's followers ----------------------------------------------------

    def followers_recorded(self, box: Outbox, measured: FollowersMeasurement) -> DocumentWrite:
        doc = {
            "_id": measured.id,
            "tenant": measured.tenant,
            "network": measured.network.value,
            "followers": measured.followers,
            "measured_at": measured.measured_at,
            "source": measured.source.value,
            "recorded_by": measured.recorded_by,
            "recorded_at": measured.recorded_at,
        }
        return DocumentWrite(box, measured.id, new=doc)

    async def followers_history(
        self, tenant: str, network: str | None, limit: int
    ) -> list[FollowersMeasurement]:
        """The tenant's follower measurements, newest first."""
        query: dict[str, Any] = {"tenant": tenant}
        if network is not None:
            query["network"] = network
        cursor = self.followers.find(query, {outbox.PENDING: 0, outbox.LEASE: 0, outbox.COUNT: 0})
        cursor = cursor.sort("measured_at", DESCENDING).limit(limit)
        return [
            FollowersMeasurement(
                id=doc["_id"],
                tenant=doc["tenant"],
                network=Network(doc["network"]),
                followers=int(doc["followers"]),
                measured_at=doc["measured_at"],
                source=MeasurementSource(doc["source"]),
                recorded_by=doc.get("recorded_by"),
                recorded_at=doc.get("recorded_at"),
            )
            async for doc in cursor
        ]


def _is_day(text: str) -> bool:
    try:
        datetime.strptime(text, "%Y-%m-%d")
    except ValueError:
        return False
    return True


# -- documents <-> domain objects --------------------------------------------------------


def _content_of(doc: dict[str, Any], content_id: str) -> ContentItem:
    """The stored copy of an item (only `retired_at` when its retirement came first)."""
    audience = doc.get("audience") or {}
    kind = doc.get("kind")
    return ContentItem(
        content_id=doc.get("content_id") or content_id,
        title=doc.get("title") or "",
        kind=ContentKind(kind) if kind else None,
        url=doc.get("url"),
        summary=doc.get("summary") or "",
        image_url=doc.get("image_url"),
        campaign_id=doc.get("campaign_id"),
        topics=tuple(doc.get("topics") or ()),
        audience=Audience.of(
            audience.get("groups") or (),
            audience.get("locations") or (),
            audience.get("languages") or (),
        ),
        suggested_texts=doc.get("suggested_texts") or {},
        text_variants=doc.get("text_variants") or {},
        publish_at=doc.get("publish_at"),
        expires_at=doc.get("expires_at"),
        retired_at=doc.get("retired_at"),
    )


def _advocate_of(doc: dict[str, Any]) -> Advocate:
    return Advocate(
        tenant=doc["tenant"],
        employee_id=doc["employee_id"],
        status=AdvocateStatus(doc["status"]),
        consent_at=doc.get("consent_at"),
        guidelines_version=doc.get("guidelines_version"),
        groups=tuple(doc.get("groups") or ()),
        location=doc.get("location"),
        languages=tuple(doc.get("languages") or ()),
        networks={
            Network(name): ConnectedNetwork(
                audience_size=int(entry.get("audience_size", 0)),
                connected_at=entry["connected_at"],
                direct_posting=bool(entry.get("direct_posting")),
            )
            for name, entry in (doc.get("networks") or {}).items()
        },
        opted_out_at=doc.get("opted_out_at"),
        pseudonym=doc.get("pseudonym"),
        deleted_version=doc.get("deleted_version"),
        rev=int(doc.get("rev", 0)),
        erasure_request=doc.get("erasure_request"),
    )


def _advocate_fields(advocate: Advocate) -> dict[str, Any]:
    """What an advocate's write sets; an erasure's marks only once there are some (a
    document with `pseudonym` is an erasure under way)."""
    networks: dict[str, Any] = {}
    for network, connected in advocate.networks.items():
        entry: dict[str, Any] = {
            "connected_at": connected.connected_at,
            "audience_size": connected.audience_size,
        }
        if connected.direct_posting:
            entry["direct_posting"] = True
        networks[network.value] = entry
    fields: dict[str, Any] = {
        "tenant": advocate.tenant,
        "employee_id": advocate.employee_id,
        "status": advocate.status.value,
        "consent_at": advocate.consent_at,
        "guidelines_version": advocate.guidelines_version,
        "groups": list(advocate.groups),
        "location": advocate.location,
        "languages": list(advocate.languages),
        "networks": networks,
        "opted_out_at": advocate.opted_out_at,
    }
    if advocate.pseudonym is not None:
        fields["pseudonym"] = advocate.pseudonym
    if advocate.erasure_request is not None:
        fields["erasure_request"] = advocate.erasure_request
    if advocate.deleted_version is not None:
        fields["deleted_version"] = advocate.deleted_version
    return fields


def _settings_of(doc: dict[str, Any]) -> TenantSettings:
    domains = doc.get("link_domains")
    return TenantSettings(
        daily_share_cap=doc.get("daily_share_cap"),
        leaders_group=doc.get("leaders_group"),
        link_domains=tuple(domains) if domains is not None else None,
        detail_retention_days=doc.get("detail_retention_days"),
    )


def _connector_of(doc: dict[str, Any]) -> Connector:
    return Connector(
        id=doc["_id"],
        tenant=doc["tenant"],
        name=doc["name"],
        version=doc["version"],
        created_at=doc["created_at"],
        rotated_at=doc.get("rotated_at"),
    )


def _offer_of(doc: dict[str, Any]) -> VariantOffer:
    return VariantOffer(int(doc["variant"]), bool(doc.get("shared")))


def _share_of(doc: dict[str, Any]) -> Share:
    """A stored share. Built once per lookup: the short link keeps it for every click."""
    viewer = doc.get("viewer")
    kind = doc.get("content_kind")
    return Share(
        id=doc["_id"],
        tenant=doc["tenant"],
        employee_id=doc["employee_id"],
        network=Network(doc["network"]),
        short_code=doc["short_code"],
        target_url=doc.get("target_url", ""),
        status=ShareStatus(doc.get("status", ShareStatus.SHARED)),
        method=ShareMethod(doc.get("method", ShareMethod.INTENT)),
        content_id=doc.get("content_id"),
        content_kind=ContentKind(kind) if kind else None,
        campaign_id=doc.get("campaign_id"),
        content_topics=tuple(doc.get("content_topics") or ()),
        employee_groups=tuple(doc.get("employee_groups") or ()),
        viewer=Viewer(
            frozenset(viewer.get("groups") or ()),
            viewer.get("location"),
            tuple(viewer.get("languages") or ()),
        )
        if viewer is not None
        else None,
        text=doc.get("text", ""),
        title=doc.get("title", ""),
        summary=doc.get("summary", ""),
        image_url=doc.get("image_url"),
        audience_size=int(doc.get("audience_size", 0)),
        target_allowed=bool(doc.get("target_allowed")),
        by_leader=bool(doc.get("by_leader")),
        post_url=doc.get("post_url"),
        post_title=doc.get("post_title"),
        text_variant=doc.get("text_variant"),
        text_edited=doc.get("text_edited"),
        created_at=doc.get("created_at"),
        scheduled_at=doc.get("scheduled_at"),
        shared_at=doc.get("shared_at"),
        network_post_id=doc.get("network_post_id"),
        reason=doc.get("reason"),
        stopped=bool(doc.get("stopped")),
    )


def _share_doc(share: Share) -> dict[str, Any]:
    """A new share's document; what only some shares have is left out of the others."""
    doc: dict[str, Any] = {
        "_id": share.id,
        "tenant": share.tenant,
        "employee_id": share.employee_id,
        "employee_groups": list(share.employee_groups),
    }
    if share.viewer is not None:
        doc["viewer"] = {
            "groups": sorted(share.viewer.groups),
            "location": share.viewer.location,
            "languages": list(share.viewer.languages),
        }
    doc.update(
        content_id=share.content_id,
        content_kind=share.content_kind.value if share.content_kind else None,
        campaign_id=share.campaign_id,
        content_topics=list(share.content_topics),
        network=share.network.value,
        text=share.text,
        title=share.title,
        image_url=share.image_url,
        summary=share.summary,
        target_url=share.target_url,
        audience_size=share.audience_size,
        method=share.method.value,
        created_at=share.created_at,
        target_allowed=share.target_allowed,
    )
    if share.by_leader:
        doc["by_leader"] = True
    if share.post_url is not None:
        doc.update(post_url=share.post_url, post_title=share.post_title)
    if share.text_variant is not None:
        doc.update(text_variant=share.text_variant, text_edited=share.text_edited)
    doc["status"] = share.status.value
    if share.scheduled_at is not None:
        doc["scheduled_at"] = share.scheduled_at
    doc.update(shared_at=share.shared_at, short_code=share.short_code)
    return doc
