"""Rewards' MongoDB collections.

- `standings`: one document per employee (`<tenant>:<employee>`), written by the worker
  only: points earned, leaderboard figures, what the rules remember (daily use, shares,
  streak, badges, challenge progress), the scopes learnt from events, and the partition
  watermarks of the events already applied.
- `profiles`: what an employee chose (hidden from leaderboards, opted in), written by the api.
- `spends`: per employee, a chain of charges and refunds (`<tenant>:<employee>:<seq>`),
  each with the running total spent.
- `units`: per catalog item, a chain of units sold (`<tenant>:<item>:<seq>`); each carries
  its RewardRedeemed (outbox).
- `clawbacks`: one per reversed award, keyed by it, carrying its PointsAwarded (outbox).
- `ledger`: one entry per award, keyed by the award id.
- `activities`: every scored activity (one document per batch and tenant, packed
  in one compressed JSON binary), for rule simulations.
- `month_ends`: one per tenant and ended month (`<tenant>:<month>`), the "top 10% of the
  month" decision: the ranking's size, the cutoff and the winners. Inserted once; whoever
  inserts it first decides, every other writer reads it.
- `month_badges`: one per employee and month won (keyed by the badge's award id),
  carrying its BadgeEarned (outbox).
- `tenants`: rule versions and leaderboard settings per tenant (and the challenges created
  before they had a collection of their own; still read from there, never added to).
- `challenges`: one per challenge (`<tenant>:<challenge>`): creating one is an insert, so
  of two requests creating the same id only one gets in, however close together.
- `catalog`: reward items with their price and stock.
- `fulfilments`: one per redemption handed over (`<tenant>:<redemption>`), inserted once.
- `suggestions`: rewards employees suggest (`<tenant>:<suggestion>`), with their status.
- `votes`: one per person and suggestion (`<tenant>:<suggestion>:<voter>`): a vote is an
  insert (a second one is a duplicate key), taking it back a delete.
- `erasures`: the pseudonym of each person erased, keyed by a hash of tenant and employee
  id (never the id); inserted once, so every retry of an erasure uses the first pseudonym,
  and a late event of the person finds it.

An erasure leaves no document naming the person: what others still count (ledger entries,
reversals, month badges and decisions, charges, fulfilments, rule versions, activities,
events still staged, the standing) goes on under the pseudonym; their leaderboard choices
are deleted.
"""

from __future__ import annotations

import asyncio
import json
import re
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING, UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chassis import outbox
from chassis.outbox import DocumentWrite, Outbox
from chassis.projection import WatermarkConflict as ProjectionConflict
from rewards.adapters.events import WATERMARKS
from rewards.domain.ledger import Badge
from rewards.domain.rules import month_of, week_of

DUPLICATE_KEY = 11000


class WatermarkConflict(ProjectionConflict):
    """Another writer applied events to a standing between our read and our write: the
    consumer tries the batch again, never dead-letters it."""


def standing_id(tenant: str, employee_id: str) -> str:
    return f"{tenant}:{employee_id}"


def activities_id(batch_id: str, tenant: str) -> str:
    """The document holding one batch's activities of one tenant."""
    return f"{batch_id}:{tenant}"


def watermarks_of(standing: dict[str, Any] | None) -> dict[str, int]:
    """The partition offsets of the last events applied to a standing as read."""
    return dict((standing or {}).get(WATERMARKS) or {})


@dataclass
class StandingChange:
    """What one batch did to one standing: the standing as read (None: there was none),
    its fields now, the badges it earned, its watermarks now and which of them the batch
    moved, and the ledger entries it was awarded (their points move the figures)."""

    key: str
    tenant: str
    employee_id: str
    read: dict[str, Any] | None
    fields: dict[str, Any]
    badges: dict[str, dict[str, Any]]
    marks: dict[str, int]
    moved: set[str]
    entries: list[dict[str, Any]]


def _standing_write(change: StandingChange) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The conditional update of one standing: only if its watermarks (and month and week)
    are still what was read; figures move by `$inc`, a new month or week starts from zero.
    Upserted only where there was none: one read but gone since was erased meanwhile."""
    doc = change.read or {}
    read_marks = watermarks_of(doc)
    fields = {
        **change.fields,
        **{f"badges.{b}": v for b, v in change.badges.items()},
        **{f"{WATERMARKS}.{k}": v for k, v in change.marks.items()},
    }
    condition: dict[str, Any] = {"_id": change.key}
    for wm in change.moved:
        condition[f"{WATERMARKS}.{wm}"] = read_marks[wm] if wm in read_marks else {"$exists": False}
    if change.read is None:
        condition[WATERMARKS] = {"$exists": False}
    inc: dict[str, int] = {"earned": sum(e["points"] for e in change.entries)}
    for period, of in (("month", month_of), ("week", week_of)):
        key_field, points_field = f"{period}_key", f"{period}_points"
        old_key = doc.get(key_field)
        new_key = fields[key_field]
        condition[key_field] = old_key if old_key is not None else {"$exists": False}
        in_period = sum(e["points"] for e in change.entries if of(_utc(e["awarded_at"])) == new_key)
        if new_key == old_key:
            inc[points_field] = in_period
        else:
            fields[points_field] = in_period
    update = {
        "$set": fields,
        "$setOnInsert": {"tenant": change.tenant, "employee_id": change.employee_id},
        "$inc": inc,
    }
    return condition, update, not doc


class RewardsRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]], read_concurrency: int = 32) -> None:
        self.standings = db["standings"]
        self.ledger = db["ledger"]
        self.activities = db["activities"]
        self.tenants = db["tenants"]
        self.challenges = db["challenges"]
        self.catalog = db["catalog"]
        self.profiles = db["profiles"]
        self.spends = db["spends"]
        self.units = db["units"]
        self.clawbacks = db["clawbacks"]
        self.month_ends = db["month_ends"]
        self.month_badges = db["month_badges"]
        self.fulfilments = db["fulfilments"]
        self.suggestions = db["suggestions"]
        self.votes = db["votes"]
        self.erasures = db["erasures"]
        self._reads = asyncio.Semaphore(read_concurrency)

    async def ensure_indexes(self) -> None:
        await self.ledger.create_index(
            [("tenant", ASCENDING), ("employee_id", ASCENDING), ("awarded_at", DESCENDING)]
        )
        await self.activities.create_index([("tenant", ASCENDING), ("at", ASCENDING)])
        await self.standings.create_index([("tenant", ASCENDING)])
        await self.catalog.create_index([("tenant", ASCENDING)])
        await self.challenges.create_index([("tenant", ASCENDING)])
        await self.spends.create_index([("owner", ASCENDING), ("seq", DESCENDING)])
        await self.units.create_index([("owner", ASCENDING), ("seq", DESCENDING)])
        await self.clawbacks.create_index([("tenant", ASCENDING), ("employee_id", ASCENDING)])
        await self.month_badges.create_index([("tenant", ASCENDING), ("employee_id", ASCENDING)])
        await self.fulfilments.create_index([("tenant", ASCENDING)])
        await self.suggestions.create_index([("tenant", ASCENDING), ("suggested_by", ASCENDING)])
        await self.votes.create_index([("tenant", ASCENDING), ("voter", ASCENDING)])
        await self.votes.create_index([("tenant", ASCENDING), ("suggestion_id", ASCENDING)])
        for staged in (self.units, self.clawbacks, self.month_badges):
            await outbox.ensure_index(staged)

    # -- standings ---------------------------------------------------------------------

    async def standings_of(self, ids: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Standings by id. One lookup by `_id` each: on the MongoDB-wire server we test
        with, `$in` over many ids scans the collection, a lookup by `_id` does not."""

        async def one(doc_id: str) -> dict[str, Any] | None:
            async with self._reads:
                return await self.standings.find_one({"_id": doc_id}, {outbox.PENDING: 0})

        docs = await asyncio.gather(*(one(doc_id) for doc_id in ids))
        return {doc["_id"]: doc for doc in docs if doc is not None}

    async def standing(self, tenant: str, employee_id: str) -> dict[str, Any] | None:
        return await self.standings.find_one(
            {"_id": standing_id(tenant, employee_id)}, {outbox.PENDING: 0}
        )

    async def apply_standings(self, changes: Sequence[StandingChange]) -> None:
        """Write what a batch did to its standings, each only if no other writer moved it
        since it was read, in one round trip; any that finds it moved raises
        `WatermarkConflict` (the batch is then delivered again). A standing read but gone
        since (an erasure moved it) is a conflict, not a new standing under its old id."""
        if not changes:
            return
        ops = [
            UpdateOne(condition, update, upsert=upsert)
            for condition, update, upsert in map(_standing_write, changes)
        ]
        try:
            # Ordered: the MongoDB subset we rely on has no unordered bulk updates.
            result = await self.standings.bulk_write(ops, ordered=True)
        except BulkWriteError as exc:
            raise WatermarkConflict("a standing changed under us") from exc
        if result.matched_count + result.upserted_count < len(ops):
            raise WatermarkConflict("a standing changed under us")

    async def put_standing(self, doc: dict[str, Any], read: dict[str, Any] | None) -> None:
        """Write a whole standing: a new one (`read` None), or in place of the one read if
        no batch has moved its watermarks since; else `WatermarkConflict`."""
        if read is None:
            if await self.insert_new("standings", [doc]):
                raise WatermarkConflict("a standing was created under us")
            return
        marks = watermarks_of(read)
        condition: dict[str, Any] = {f"{WATERMARKS}.{k}": v for k, v in marks.items()}
        if not marks:
            condition[WATERMARKS] = {"$exists": False}
        result = await self.standings.replace_one({"_id": doc["_id"], **condition}, doc)
        if result.matched_count != 1:
            raise WatermarkConflict("a standing changed under us")

    async def delete_standing(self, tenant: str, employee_id: str) -> None:
        await self.standings.delete_one({"_id": standing_id(tenant, employee_id)})

    async def set_profile(self, tenant: str, employee_id: str, fields: dict[str, Any]) -> None:
        await self.profiles.update_one(
            {"_id": standing_id(tenant, employee_id)},
            {"$set": fields, "$setOnInsert": {"tenant": tenant, "employee_id": employee_id}},
            upsert=True,
        )

    async def profile(self, tenant: str, employee_id: str) -> dict[str, Any]:
        return await self.profiles.find_one({"_id": standing_id(tenant, employee_id)}) or {}

    async def tenant_profiles(self, tenant: str) -> dict[str, dict[str, Any]]:
        return {d["employee_id"]: d async for d in self.profiles.find({"tenant": tenant})}

    async def tenant_clawbacks(self, tenant: str) -> list[dict[str, Any]]:
        return [d async for d in self.clawbacks.find({"tenant": tenant}, {outbox.PENDING: 0})]

    async def ranked_tenants(self) -> list[str]:
        """Every tenant with a standing: the ones whose leaderboards can be asked for."""
        return sorted(await self.standings.distinct("tenant"))

    async def tenant_standings(self, tenant: str, fields: Sequence[str]) -> list[dict[str, Any]]:
        cursor = self.standings.find({"tenant": tenant}, dict.fromkeys(fields, 1)).batch_size(
            20_000
        )
        return [doc async for doc in cursor]

    # -- ledger ------------------------------------------------------------------------

    async def insert_new(self, collection: str, docs: list[dict[str, Any]]) -> set[str]:
        """Insert documents keyed by deterministic ids; returns the ids already there."""
        if not docs:
            return set()
        try:
            await self.standings.database[collection].insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(e["code"] != DUPLICATE_KEY for e in errors):
                raise
            return {docs[e["index"]]["_id"] for e in errors}
        return set()

    async def add_ledger_entries(self, entries: list[dict[str, Any]]) -> set[str]:
        """Insert ledger entries keyed by their award ids; the ids already there."""
        return await self.insert_new("ledger", entries)

    async def keep_activities(
        self, batch_id: str, activities: dict[str, list[dict[str, Any]]]
    ) -> None:
        """Keep a batch's activities (by tenant) for simulations: one document per tenant
        and batch, since inserting each activity alone costs far more."""
        await self.insert_new(
            "activities",
            [
                {
                    "_id": activities_id(batch_id, tenant),
                    "tenant": tenant,
                    "at": min(a["at"] for a in acts),
                    "until": max(a["at"] for a in acts),
                    "packed": pack_activities(acts),
                }
                for tenant, acts in activities.items()
            ],
        )

    def new_clawback(self, box: Outbox, award_id: str, record: dict[str, Any]) -> DocumentWrite:
        """The record of an award reversed, keyed by the award: a second reversal of it is a
        repeat, not a conflict."""
        return DocumentWrite(box, award_id, new={"_id": award_id, **record}, must_land=False)

    async def ledger_entries(self, ids: Sequence[str]) -> list[dict[str, Any]]:
        async def one(doc_id: str) -> dict[str, Any] | None:
            async with self._reads:
                return await self.ledger.find_one({"_id": doc_id})

        return [doc for doc in await asyncio.gather(*(one(i) for i in ids)) if doc is not None]

    async def ledger_entry(self, tenant: str, award_id: str) -> dict[str, Any] | None:
        return await self.ledger.find_one({"_id": award_id, "tenant": tenant})

    async def entries(
        self, tenant: str, employee_id: str, limit: int, before: Any = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"tenant": tenant, "employee_id": employee_id}
        if before is not None:
            query["awarded_at"] = {"$lt": before}
        cursor = self.ledger.find(query).sort("awarded_at", DESCENDING).limit(limit)
        return [doc async for doc in cursor]

    async def ledger_page(
        self, tenant: str, employee_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[dict[str, Any]]:
        """An employee's ledger, newest first, ties in award id order: every entry once
        however many share a moment, from the position `after` (awarded at, award id)."""
        query: dict[str, Any] = {"tenant": tenant, "employee_id": employee_id}
        if after is not None:
            at, award_id = after
            query["$or"] = [
                {"awarded_at": {"$lt": at}},
                {"awarded_at": at, "_id": {"$lt": award_id}},
            ]
        cursor = self.ledger.find(query).sort([("awarded_at", DESCENDING), ("_id", DESCENDING)])
        return [doc async for doc in cursor.limit(limit)]

    async def activities_between(self, tenant: str, start: Any, end: Any) -> list[dict[str, Any]]:
        """Activities of a window, once each (a batch delivered twice stored them twice)."""
        cursor = self.activities.find(
            {"tenant": tenant, "at": {"$lt": end}, "until": {"$gte": start}}
        )
        seen: dict[str, dict[str, Any]] = {}
        async for doc in cursor:
            for activity in _activities_of(doc):
                if start <= activity["at"] < end:
                    seen[activity["event_id"]] = activity
        return sorted(seen.values(), key=lambda a: (a["at"], a["event_id"]))

    # -- months ------------------------------------------------------------------------

    async def tenants_awarded_between(self, start: Any, end: Any) -> list[str]:
        tenants = await self.ledger.distinct("tenant", {"awarded_at": {"$gte": start, "$lt": end}})
        return sorted(tenants)

    async def net_points_between(self, tenant: str, start: Any, end: Any) -> dict[str, int]:
        """Points per employee from awards dated in [start, end), less those of them that
        were clawed back (whenever: a reversal counts against the award's own period)."""
        pipeline: list[dict[str, Any]] = [
            {
                "$match": {
                    "tenant": tenant,
                    "awarded_at": {"$gte": start, "$lt": end},
                    # Reversals are dated when they were made; they are counted below.
                    "rule_id": {"$ne": "clawback"},
                }
            },
            {"$group": {"_id": "$employee_id", "points": {"$sum": "$points"}}},
        ]
        points: dict[str, int] = {}
        async for doc in await self.ledger.aggregate(pipeline):
            points[doc["_id"]] = doc["points"]
        reversed_ = self.clawbacks.find(
            {"tenant": tenant, "awarded_at": {"$gte": start, "$lt": end}},
            {"employee_id": 1, "points": 1},
        )
        async for doc in reversed_:
            points[doc["employee_id"]] = points.get(doc["employee_id"], 0) - doc["points"]
        return points

    async def add_month_end(self, doc: dict[str, Any]) -> bool:
        """Record a month's decision (or that months were closed); False when one of its
        id is there already (whoever inserted first decided)."""
        return not await self.insert_new("month_ends", [doc])

    def new_month_badge(
        self, box: Outbox, tenant: str, badge: Badge, month: str, points: int
    ) -> DocumentWrite:
        """The "top of the month" badge of one winner, keyed by its award id: a badge
        already there (staged by an earlier run) is a repeat, not a conflict."""
        record = {
            "_id": badge.award_id,
            "tenant": tenant,
            "employee_id": badge.employee_id,
            "badge": badge.badge,
            "name": badge.name,
            "month": month,
            "points": points,
            "earned_at": badge.earned_at,
        }
        return DocumentWrite(box, badge.award_id, new=record, must_land=False)

    async def month_end(self, claim_id: str) -> dict[str, Any] | None:
        return await self.month_ends.find_one({"_id": claim_id})

    async def finish_month_end(self, claim_id: str) -> None:
        await self.month_ends.update_one({"_id": claim_id}, {"$set": {"done": True}})

    async def month_badges_of(self, tenant: str, employee_id: str) -> list[dict[str, Any]]:
        cursor = self.month_badges.find(
            {"tenant": tenant, "employee_id": employee_id}, {outbox.PENDING: 0}
        )
        return [doc async for doc in cursor]

    # -- tenants -----------------------------------------------------------------------

    async def tenant(self, tenant: str) -> dict[str, Any]:
        """The tenant's settings, with every challenge: those kept in the tenant's
        document first (the way they were stored before), then the others as created."""
        found, created = await asyncio.gather(
            self.tenants.find_one({"_id": tenant}), self._challenges_of(tenant)
        )
        doc = found or {"_id": tenant}
        if created:
            kept = doc.get("challenges") or []
            known = {c["challenge_id"] for c in kept}
            doc["challenges"] = [*kept, *(c for c in created if c["challenge_id"] not in known)]
        return doc

    async def _challenges_of(self, tenant: str) -> list[dict[str, Any]]:
        cursor = self.challenges.find({"tenant": tenant}, {"_id": 0, "tenant": 0})
        return [doc async for doc in cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)])]

    async def add_rule_version(self, tenant: str, expected: int, version: dict[str, Any]) -> bool:
        """Append a rule version if the tenant still has `expected` versions."""
        condition: dict[str, Any] = {"_id": tenant, "rule_count": expected}
        if expected == 0:
            condition["rule_count"] = {"$exists": False}
        try:
            result = await self.tenants.update_one(
                condition,
                {"$push": {"rules": version}, "$inc": {"rule_count": 1}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.matched_count == 1 or result.upserted_id is not None

    async def set_tenant(self, tenant: str, fields: dict[str, Any]) -> None:
        await self.tenants.update_one({"_id": tenant}, {"$set": fields}, upsert=True)

    async def add_challenge(self, tenant: str, challenge: dict[str, Any]) -> bool:
        """Store a new challenge; False when the tenant has one of that id already.

        An insert keyed by the id, not a check and then a write: the MongoDB-wire server we
        test with runs a conditional update as a read and a write that concurrent requests
        interleave, while an insert with a taken `_id` always fails."""
        doc = {**challenge, "_id": f"{tenant}:{challenge['challenge_id']}", "tenant": tenant}
        try:
            await self.challenges.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    # -- catalog and redemptions -------------------------------------------------------

    async def items(self, tenant: str) -> list[dict[str, Any]]:
        return [doc async for doc in self.catalog.find({"tenant": tenant}).sort("name")]

    async def item(self, tenant: str, item_id: str) -> dict[str, Any] | None:
        return await self.catalog.find_one({"_id": f"{tenant}:{item_id}"})

    async def save_item(self, doc: dict[str, Any]) -> None:
        await self.catalog.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    # Chains. Where the MongoDB-wire server we test with runs a conditional update as a
    # read and a write that concurrent requests interleave, an insert with a taken `_id`
    # still fails: so a balance or a stock is a chain of inserts, each numbered one past
    # the last, and of two writers of the same number only one gets in.

    async def chain_head(self, chain: str, owner: str) -> dict[str, Any] | None:
        cursor = self.standings.database[chain].find({"owner": owner}).sort("seq", DESCENDING)
        async for doc in cursor.limit(1):
            return doc
        return None

    async def append(self, chain: str, doc: dict[str, Any]) -> bool:
        """Insert the next link of a chain; False when another writer took its number."""
        try:
            await self.standings.database[chain].insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    async def last_spend(self, tenant: str, employee_id: str) -> dict[str, Any] | None:
        """The latest charge or refund of an employee, with the running total spent."""
        return await self.chain_head("spends", standing_id(tenant, employee_id))

    async def add_spend(
        self, tenant: str, employee_id: str, seq: int, charge: dict[str, Any]
    ) -> bool:
        """Charge number `seq` of an employee (a refund when its points are negative);
        False when another charge took that number first."""
        owner = standing_id(tenant, employee_id)
        link = {"_id": f"{owner}:{seq:09d}", "owner": owner, "seq": seq, **charge}
        return await self.append("spends", link)

    async def units_sold(self, tenant: str, item_id: str) -> int:
        head = await self.chain_head("units", f"{tenant}:{item_id}")
        return int(head["seq"]) if head else 0

    def new_unit(self, box: Outbox, tenant: str, item_id: str, seq: int) -> DocumentWrite:
        """Unit number `seq` of an item sold; it does not land when another redemption
        took that number first."""
        owner = f"{tenant}:{item_id}"
        unit_id = f"{owner}:{seq:09d}"
        unit = {"_id": unit_id, "owner": owner, "seq": seq}
        return DocumentWrite(box, unit_id, new=unit, must_land=False)

    async def spends_of(self, tenant: str, employee_id: str) -> list[dict[str, Any]]:
        """An employee's charges and refunds, oldest first."""
        cursor = self.spends.find({"owner": standing_id(tenant, employee_id)}).sort(
            "seq", ASCENDING
        )
        return [doc async for doc in cursor]

    async def tenant_redemption_links(
        self, tenant: str, redemption_id: str | None = None
    ) -> list[dict[str, Any]]:
        """The charges and refunds of redemptions of every employee of a tenant."""
        where: dict[str, Any] = {
            "owner": {"$regex": f"^{re.escape(tenant)}:"},
            "redemption_id": redemption_id if redemption_id else {"$exists": True},
        }
        return [doc async for doc in self.spends.find(where)]

    async def fulfilments_of(self, tenant: str) -> dict[str, dict[str, Any]]:
        """The tenant's fulfilled redemptions by redemption id."""
        cursor = self.fulfilments.find({"tenant": tenant})
        return {doc["redemption_id"]: doc async for doc in cursor}

    async def add_fulfilment(self, mark: dict[str, Any]) -> None:
        """Mark a redemption handed over; a mark already there stays as it is."""
        await self.insert_new("fulfilments", [mark])

    async def fulfilment(self, tenant: str, redemption_id: str) -> dict[str, Any] | None:
        return await self.fulfilments.find_one({"_id": f"{tenant}:{redemption_id}"})

    async def clawed(self, tenant: str, employee_id: str) -> int:
        cursor = self.clawbacks.find({"tenant": tenant, "employee_id": employee_id}, {"points": 1})
        return sum([doc["points"] async for doc in cursor])

    # -- reward suggestions ------------------------------------------------------------

    async def insert_suggestion(self, doc: dict[str, Any]) -> None:
        await self.suggestions.insert_one(doc)

    async def suggestion(self, tenant: str, suggestion_id: str) -> dict[str, Any] | None:
        return await self.suggestions.find_one({"_id": f"{tenant}:{suggestion_id}"})

    async def tenant_suggestions(
        self, tenant: str, statuses: Sequence[str] | None = None
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"tenant": tenant}
        if statuses:
            query["status"] = {"$in": list(statuses)}
        return [doc async for doc in self.suggestions.find(query)]

    async def open_suggestion_titled(self, tenant: str, key: str) -> dict[str, Any] | None:
        return await self.suggestions.find_one(
            {"tenant": tenant, "title_key": key, "status": "open"}
        )

    async def open_suggestions_by(self, tenant: str, employee_id: str) -> int:
        return await self.suggestions.count_documents(
            {"tenant": tenant, "suggested_by": employee_id, "status": "open"}
        )

    async def suggestions_by(self, tenant: str, employee_id: str) -> list[dict[str, Any]]:
        cursor = self.suggestions.find({"tenant": tenant, "suggested_by": employee_id})
        return [doc async for doc in cursor.sort("suggested_at", ASCENDING)]

    async def decide_suggestion(
        self, tenant: str, suggestion_id: str, fields: dict[str, Any]
    ) -> dict[str, Any] | None:
        """Set a suggestion's status (last decision wins); the suggestion as it is now."""
        await self.suggestions.update_one({"_id": f"{tenant}:{suggestion_id}"}, {"$set": fields})
        return await self.suggestion(tenant, suggestion_id)

    async def add_vote(self, tenant: str, suggestion_id: str, voter: str, at: datetime) -> None:
        """One vote per person: a second insert of the same vote is a duplicate, and ignored."""
        await self.insert_new(
            "votes",
            [
                {
                    "_id": f"{tenant}:{suggestion_id}:{voter}",
                    "tenant": tenant,
                    "suggestion_id": suggestion_id,
                    "voter": voter,
                    "voted_at": at,
                }
            ],
        )

    async def remove_vote(self, tenant: str, suggestion_id: str, voter: str) -> None:
        await self.votes.delete_one({"_id": f"{tenant}:{suggestion_id}:{voter}"})

    async def has_voted(self, tenant: str, suggestion_id: str, voter: str) -> bool:
        return await self.votes.find_one({"_id": f"{tenant}:{suggestion_id}:{voter}"}) is not None

    async def vote_count(self, tenant: str, suggestion_id: str) -> int:
        return await self.votes.count_documents({"tenant": tenant, "suggestion_id": suggestion_id})

    async def vote_counts(self, tenant: str) -> dict[str, int]:
        """Votes per suggestion of a tenant (one `$sum` per group: all FerretDB gets right)."""
        pipeline: list[dict[str, Any]] = [
            {"$match": {"tenant": tenant}},
            {"$group": {"_id": "$suggestion_id", "votes": {"$sum": 1}}},
        ]
        return {doc["_id"]: doc["votes"] async for doc in await self.votes.aggregate(pipeline)}

    async def votes_by(self, tenant: str, voter: str) -> list[dict[str, Any]]:
        cursor = self.votes.find({"tenant": tenant, "voter": voter})
        return [doc async for doc in cursor.sort("voted_at", ASCENDING)]

    async def record_erasure(self, key: str, pseudonym: str, at: datetime) -> str:
        """List an erasure with its pseudonym and time; the pseudonym listed first if there
        is one, and the latest time (a person may come back, and be erased again)."""
        await self.insert_new("erasures", [{"_id": key, "pseudonym": pseudonym}])
        await self.erasures.update_one({"_id": key}, {"$max": {"erased_at": at}})
        listed = await self.erasures.find_one({"_id": key})
        return str(listed["pseudonym"]) if listed else pseudonym

    async def pseudonymise(self, tenant: str, employee_id: str, pseudonym: str) -> None:
        """Put the pseudonym in place of the id in a person's suggestions and votes.

        Idempotent, so a retry after a failure half-way completes it. A vote's `_id` names
        its voter, so each is inserted again under the pseudonym before the one under the
        id is deleted: in between, a vote counts twice for a moment, never zero times."""
        owned = {"tenant": tenant, "suggested_by": employee_id}
        await self.suggestions.update_many(owned, {"$set": {"suggested_by": pseudonym}})
        decided = {"tenant": tenant, "decided_by": employee_id}
        await self.suggestions.update_many(decided, {"$set": {"decided_by": pseudonym}})
        votes = await self.votes_by(tenant, employee_id)
        await self.insert_new(
            "votes",
            [
                {
                    **vote,
                    "_id": f"{tenant}:{vote['suggestion_id']}:{pseudonym}",
                    "voter": pseudonym,
                }
                for vote in votes
            ],
        )
        if votes:
            await self.votes.delete_many({"_id": {"$in": [vote["_id"] for vote in votes]}})

    # -- erasure ------------------------------------------------------------------------

    async def erased_names(self, keys: Sequence[str]) -> dict[str, tuple[str, datetime | None]]:
        """The pseudonyms of the erasures listed under `keys` (hashed keys), by key, with
        the time of the latest (None for one listed before erasures had a time)."""

        async def one(key: str) -> dict[str, Any] | None:
            async with self._reads:
                return await self.erasures.find_one({"_id": key})

        listed = await asyncio.gather(*(one(key) for key in keys))
        return {
            doc["_id"]: (str(doc["pseudonym"]), _utc(at) if (at := doc.get("erased_at")) else None)
            for doc in listed
            if doc is not None
        }

    async def rename_person(self, tenant: str, employee_id: str, pseudonym: str) -> None:
        """Put the pseudonym in place of the id in what others still count: ledger entries
        and reversals, month badges and decisions, charges, fulfilments, rule versions and
        events still staged, as the one they are about or the admin who acted; delete the
        person's leaderboard choices. Every step can be done again, so a retry after a
        failure half-way completes it. (Standing and activities: the caller's.)"""
        await self.rename_awards(tenant, employee_id, pseudonym)
        renamed = (
            (self.ledger, "clawed_back_by"),
            (self.clawbacks, "employee_id"),
            (self.clawbacks, "by"),
            (self.month_badges, "employee_id"),
            (self.fulfilments, "employee_id"),
            (self.fulfilments, "fulfilled_by"),
        )
        for collection, field in renamed:
            await collection.update_many(
                {"tenant": tenant, field: employee_id}, {"$set": {field: pseudonym}}
            )
        await self._rename_listed(
            self.month_ends, {"tenant": tenant}, "winners", "employee_id", employee_id, pseudonym
        )
        await self._rename_listed(
            self.tenants, {"_id": tenant}, "rules", "created_by", employee_id, pseudonym
        )
        await self._move_chain(
            "spends", standing_id(tenant, employee_id), standing_id(tenant, pseudonym)
        )
        for staged in (self.units, self.clawbacks, self.month_badges):
            await self._restage(staged, tenant, employee_id, pseudonym)
        await self.profiles.delete_one({"_id": standing_id(tenant, employee_id)})

    async def rename_awards(self, tenant: str, employee_id: str, pseudonym: str) -> None:
        """Put the pseudonym in place of the id in the person's ledger entries."""
        await self.ledger.update_many(
            {"tenant": tenant, "employee_id": employee_id}, {"$set": {"employee_id": pseudonym}}
        )

    async def _rename_listed(
        self,
        collection: AsyncCollection[dict[str, Any]],
        where: dict[str, Any],
        array: str,
        field: str,
        old: str,
        new: str,
    ) -> None:
        """Rename `field` in the items of `array` that name `old`, item by item (by
        position: these lists only grow at their end, and FerretDB has no `$[]`)."""
        async for doc in collection.find({**where, f"{array}.{field}": old}):
            for index, item in enumerate(doc.get(array) or []):
                if isinstance(item, dict) and item.get(field) == old:
                    path = f"{array}.{index}.{field}"
                    await collection.update_one(
                        {"_id": doc["_id"], path: old}, {"$set": {path: new}}
                    )

    async def _move_chain(self, chain: str, old_owner: str, new_owner: str) -> None:
        """Move a chain to another owner: each link is inserted under the new owner's id
        before the old one is deleted, so a crash leaves a copy (which the retry finds
        there) and never loses a link. Until no link is left: a link appended meanwhile
        moves too."""
        collection = self.standings.database[chain]
        while links := [doc async for doc in collection.find({"owner": old_owner})]:
            await self.insert_new(
                chain,
                [
                    {**link, "_id": f"{new_owner}:{link['seq']:09d}", "owner": new_owner}
                    for link in links
                ],
            )
            await collection.delete_many({"_id": {"$in": [link["_id"] for link in links]}})

    async def _restage(
        self, collection: AsyncCollection[dict[str, Any]], tenant: str, old: str, new: str
    ) -> None:
        """Rename the person in the events still staged in `collection` (Kafka was away,
        or a process died before publishing), so they go out under the pseudonym."""
        async for doc in collection.find({outbox.COUNT: {"$gt": 0}}, {outbox.PENDING: 1}):
            for event_id, entry in (doc.get(outbox.PENDING) or {}).items():
                renamed = _renamed_record(entry, tenant, old, new)
                if renamed is None:
                    continue
                path = f"{outbox.PENDING}.{event_id}"
                # Only while still staged: once published, the relay has removed it.
                await collection.update_one(
                    {"_id": doc["_id"], path: {"$exists": True}}, {"$set": {path: renamed}}
                )

    async def rename_in_activities(
        self, tenant: str, names: dict[str, str], batches: Sequence[str] | None = None
    ) -> None:
        """Put pseudonyms (`names`: id -> pseudonym) in place of ids in the activities kept
        for simulations: every batch document of the tenant, or only `batches`.

        Nobody queries inside the packed activities, so every document is read and those
        naming someone are written again."""
        where: dict[str, Any] = {"tenant": tenant}
        if batches is not None:
            where["_id"] = {"$in": list(batches)}
        async for doc in self.activities.find(where):
            fields = _renamed_activities(doc, names)
            if fields is not None:
                await self.activities.update_one({"_id": doc["_id"]}, {"$set": fields})


def _renamed_record(
    entry: dict[str, Any], tenant: str, old: str, new: str
) -> dict[str, Any] | None:
    """A staged event (outbox record) about `old` in `tenant` renamed to `new`; None when
    it is not about them."""
    if old not in entry["value"]:
        return None
    event = json.loads(entry["value"])
    data = event.get("data") or {}
    if event.get("tenantid") != tenant or old not in (
        event.get("subject"),
        data.get("employee_id"),
    ):
        return None
    if event.get("subject") == old:
        event["subject"] = new
    if data.get("employee_id") == old:
        data["employee_id"] = new
    key = f"{tenant}:{new}" if entry["key"] == f"{tenant}:{old}" else entry["key"]
    value = json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    return {**entry, "key": key, "value": value}


def _renamed_activities(doc: dict[str, Any], names: dict[str, str]) -> dict[str, Any] | None:
    """The fields to write for a batch document of activities with ids renamed, or None
    when it names none of `names`."""
    packed: bytes | None = doc.get("packed")
    if packed is None:
        activities = list(doc.get("activities", []))
        if not any(a.get("employee_id") in names for a in activities):
            return None
        return {
            "activities": [
                {**a, "employee_id": names.get(a["employee_id"], a["employee_id"])}
                for a in activities
            ]
        }
    columns = json.loads(zlib.decompress(packed))
    employees: list[str] = columns["employee_id"]
    if names.keys().isdisjoint(employees):
        return None
    columns["employee_id"] = [names.get(e, e) for e in employees]
    return {"packed": zlib.compress(json.dumps(columns, separators=(",", ":")).encode(), 1)}


def pack_activities(activities: list[dict[str, Any]]) -> bytes:
    """A batch's activities as one compressed JSON document, column by column.

    Nobody queries inside them, and the MongoDB-wire server we test with spends far more
    on thousands of small documents (or long arrays, or a long string) in one document
    than on a short binary: it types every value and parses the document once per index
    on every insert."""
    columns = {name: [a[name] for a in activities] for name in activities[0]}
    columns["at"] = [_utc(at).isoformat() for at in columns["at"]]
    return zlib.compress(json.dumps(columns, separators=(",", ":")).encode(), 1)


def _activities_of(doc: dict[str, Any]) -> list[dict[str, Any]]:
    """The activities of one batch document (packed, or a list written before that)."""
    packed: bytes | None = doc.get("packed")
    if packed is None:
        return list(doc.get("activities", []))
    columns = json.loads(zlib.decompress(packed))
    columns["at"] = [datetime.fromisoformat(at) for at in columns["at"]]
    names = list(columns)
    return [dict(zip(names, row, strict=True)) for row in zip(*columns.values(), strict=True)]


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)
