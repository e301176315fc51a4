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
from chassis.mongo import ordered_updates
from chassis.outbox import DocumentWrite, Outbox
from chassis.projection import WatermarkConflict as ProjectionConflict
from rewards.adapters import events as convert
from rewards.adapters.events import WATERMARKS
from rewards.domain.catalog import Fulfilment, Item, Spend
from rewards.domain.ledger import (
    Badge,
    Challenge,
    Clawback,
    Figures,
    LeaderboardChoice,
    MonthBadge,
    Standing,
    StandingRecord,
    TenantSettings,
)
from rewards.domain.months import MonthEnd, MonthTop
from rewards.domain.rules import Activity, Award, RuleSet, month_of, week_of
from rewards.domain.suggestions import RewardSuggestion, SuggestionStatus, Vote

DUPLICATE_KEY = 11000


class WatermarkConflict(ProjectionConflict):
    """Another writer applied events to a standing between our read and our write: the
    consumer tries the batch again, never dead-letters it."""


def standing_id(tenant: str, employee_id: str) -> str:
    return f"{tenant}:{employee_id}"


def activities_id(batch_id: str, tenant: str) -> str:
    """The document holding one batch's activities of one tenant."""
    return f"{batch_id}:{tenant}"


@dataclass(frozen=True, slots=True)
class StandingRead:
    """A standing as a batch reads it before scoring: per topic partition the offset of
    the last event applied (`marks`), and the periods its figures were written for (None:
    none yet), which its write is conditional on.

    What the rules need is decoded only when the employee is scored (`standing`): a batch
    reads thousands of standings, and decoding them all up front keeps every one's daily
    use alive for the whole batch, which costs the garbage collector more than scoring."""

    marks: dict[str, int]
    month_key: str | None
    week_key: str | None
    _doc: dict[str, Any]

    def standing(self, tenant: str, employee_id: str) -> Standing:
        return convert.standing_from_doc(tenant, employee_id, self._doc)


def standing_read(doc: dict[str, Any]) -> StandingRead:
    return StandingRead(
        marks=dict(doc.get(WATERMARKS) or {}),
        month_key=doc.get("month_key"),
        week_key=doc.get("week_key"),
        _doc=doc,
    )


@dataclass
class StandingChange:
    """What one batch did to one standing: the standing as read (None: there was none),
    its fields now, the badges it earned, its watermarks now and which of them the batch
    moved, and the ledger entries it was awarded (their points move the figures)."""

    key: str
    tenant: str
    employee_id: str
    read: StandingRead | None
    fields: dict[str, Any]
    badges: dict[str, dict[str, Any]]
    marks: dict[str, int]
    moved: set[str]
    entries: list[dict[str, Any]]


def _standing_write(change: StandingChange) -> tuple[dict[str, Any], dict[str, Any], bool]:
    """The conditional update of one standing: only if its watermarks (and month and week)
    are still what was read; figures move by `$inc`, a new month or week starts from zero.
    Upserted only where there was none: one read but gone since was erased meanwhile."""
    read = change.read
    read_marks = read.marks if read is not None else {}
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
        old_key = getattr(read, key_field) if read is not None else None
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
    return condition, update, read is None


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

    async def standings_of(self, ids: Sequence[str]) -> dict[str, StandingRead]:
        """Standings by id. One lookup by `_id` each: on the MongoDB-wire server we test
        with, `$in` over many ids scans the collection, a lookup by `_id` does not."""

        async def one(doc_id: str) -> dict[str, Any] | None:
            async with self._reads:
                return await self.standings.find_one({"_id": doc_id}, {outbox.PENDING: 0})

        docs = await asyncio.gather(*(one(doc_id) for doc_id in ids))
        return {doc["_id"]: standing_read(doc) for doc in docs if doc is not None}

    async def standing(self, tenant: str, employee_id: str) -> StandingRecord | None:
        doc = await self.standings.find_one(
            {"_id": standing_id(tenant, employee_id)}, {outbox.PENDING: 0}
        )
        return _standing_of(doc) if doc is not None else None

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
            result = await ordered_updates(self.standings, ops)
        except BulkWriteError as exc:
            raise WatermarkConflict("a standing changed under us") from exc
        if result.matched + result.upserted < len(ops):
            raise WatermarkConflict("a standing changed under us")

    async def put_standing(self, doc: dict[str, Any], read: StandingRecord | None) -> None:
        """Write a whole standing: a new one (`read` None), or in place of the one read if
        no batch has moved its watermarks since; else `WatermarkConflict`."""
        if read is None:
            if await self.insert_new("standings", [doc]):
                raise WatermarkConflict("a standing was created under us")
            return
        marks = read.marks
        condition: dict[str, Any] = {f"{WATERMARKS}.{k}": v for k, v in marks.items()}
        if not marks:
            condition[WATERMARKS] = {"$exists": False}
        result = await self.standings.replace_one({"_id": doc["_id"], **condition}, doc)
        if result.matched_count != 1:
            raise WatermarkConflict("a standing changed under us")

    async def delete_standing(self, tenant: str, employee_id: str) -> None:
        await self.standings.delete_one({"_id": standing_id(tenant, employee_id)})

    async def set_profile(self, tenant: str, employee_id: str, choice: LeaderboardChoice) -> None:
        """Store an employee's choice; an opt-in they did not state stays as it was."""
        fields: dict[str, Any] = {"hidden": choice.hidden}
        if choice.opt_in is not None:
            fields["leaderboard_opt_in"] = choice.opt_in
        await self.profiles.update_one(
            {"_id": standing_id(tenant, employee_id)},
            {"$set": fields, "$setOnInsert": {"tenant": tenant, "employee_id": employee_id}},
            upsert=True,
        )

    async def profile(self, tenant: str, employee_id: str) -> LeaderboardChoice:
        doc = await self.profiles.find_one({"_id": standing_id(tenant, employee_id)})
        return _choice_of(doc or {})

    async def tenant_profiles(self, tenant: str) -> dict[str, LeaderboardChoice]:
        return {
            d["employee_id"]: _choice_of(d) async for d in self.profiles.find({"tenant": tenant})
        }

    async def tenant_clawbacks(self, tenant: str) -> list[Clawback]:
        cursor = self.clawbacks.find({"tenant": tenant}, {outbox.PENDING: 0})
        return [_clawback_of(d) async for d in cursor]

    async def ranked_tenants(self) -> list[str]:
        """Every tenant with a standing: the ones whose leaderboards can be asked for."""
        return sorted(await self.standings.distinct("tenant"))

    async def tenant_figures(self, tenant: str) -> list[Figures]:
        """Every standing of a tenant as its leaderboards rank it (their choices aside)."""
        cursor = self.standings.find({"tenant": tenant}, dict.fromkeys(_FIGURES, 1)).batch_size(
            20_000
        )
        return [_figures_of(doc) async for doc in cursor]

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

    async def add_reversal(self, tenant: str, reversal: Award, by: str) -> bool:
        """Insert the ledger entry that reverses an award, by admin `by`; False when it is
        there already."""
        doc = {**convert.ledger_doc(tenant, reversal), "clawed_back_by": by}
        return not await self.insert_new("ledger", [doc])

    def new_clawback(self, box: Outbox, tenant: str, clawback: Clawback) -> DocumentWrite:
        """The record of an award reversed, keyed by the award: a second reversal of it is a
        repeat, not a conflict."""
        record = {
            "_id": clawback.award_id,
            "tenant": tenant,
            "employee_id": clawback.employee_id,
            "points": clawback.points,
            "awarded_at": clawback.awarded_at,
            "reason": clawback.reason,
            "by": clawback.by,
        }
        return DocumentWrite(box, clawback.award_id, new=record, must_land=False)

    async def ledger_entries(self, ids: Sequence[str]) -> list[Award]:
        async def one(doc_id: str) -> dict[str, Any] | None:
            async with self._reads:
                return await self.ledger.find_one({"_id": doc_id})

        found = await asyncio.gather(*(one(i) for i in ids))
        return [convert.award_of(doc) for doc in found if doc is not None]

    async def ledger_sources(self, ids: Sequence[str]) -> dict[str, tuple[str, int | None]]:
        """Award id -> (the id of the event it was awarded for, the offset that event was
        read at; None for entries written before offsets were kept)."""

        async def one(doc_id: str) -> dict[str, Any] | None:
            async with self._reads:
                return await self.ledger.find_one({"_id": doc_id}, {"source_event_id": 1, "src": 1})

        found = await asyncio.gather(*(one(i) for i in ids))
        return {d["_id"]: (d["source_event_id"], d.get("src")) for d in found if d is not None}

    async def delete_ledger_entries(self, ids: Sequence[str]) -> None:
        await self.ledger.delete_many({"_id": {"$in": list(ids)}})

    async def forget_activities(self, batch_id: str, tenants: Sequence[str]) -> None:
        """Drop what `keep_activities` kept of a batch, to keep it again otherwise."""
        ids = [activities_id(batch_id, tenant) for tenant in tenants]
        await self.activities.delete_many({"_id": {"$in": ids}})

    async def ledger_entry(self, tenant: str, award_id: str) -> Award | None:
        doc = await self.ledger.find_one({"_id": award_id, "tenant": tenant})
        return convert.award_of(doc) if doc is not None else None

    async def entries(
        self, tenant: str, employee_id: str, limit: int, before: Any = None
    ) -> list[Award]:
        query: dict[str, Any] = {"tenant": tenant, "employee_id": employee_id}
        if before is not None:
            query["awarded_at"] = {"$lt": before}
        cursor = self.ledger.find(query).sort("awarded_at", DESCENDING).limit(limit)
        return [convert.award_of(doc) async for doc in cursor]

    async def ledger_page(
        self, tenant: str, employee_id: str, limit: int, after: tuple[datetime, str] | None
    ) -> list[Award]:
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
        return [convert.award_of(doc) async for doc in cursor.limit(limit)]

    async def activities_between(self, tenant: str, start: Any, end: Any) -> list[Activity]:
        """Activities of a window, once each (a batch delivered twice stored them twice)."""
        cursor = self.activities.find(
            {"tenant": tenant, "at": {"$lt": end}, "until": {"$gte": start}}
        )
        seen: dict[str, dict[str, Any]] = {}
        async for doc in cursor:
            for activity in _activities_of(doc):
                if start <= activity["at"] < end:
                    seen[activity["event_id"]] = activity
        ordered = sorted(seen.values(), key=lambda a: (a["at"], a["event_id"]))
        return [convert.activity_from_doc(a) for a in ordered]

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

    async def add_month_end(self, decided: MonthEnd) -> bool:
        """Record a month's decision; False when one is there already (whoever inserted
        first decided)."""
        doc = month_end_doc(decided)
        return not await self.insert_new("month_ends", [doc])

    async def months_closed(self, mark: str) -> bool:
        """Whether the months of `mark` (a month and the tenants a worker scores) were
        closed already."""
        return await self.month_ends.find_one({"_id": mark}) is not None

    async def mark_months_closed(self, mark: str, month: str, scope: str) -> None:
        # Decisions are `<tenant>:<month>`; a mark has no colon, so it is never one.
        doc = {"_id": mark, "month": month, "scope": scope, "closed": True}
        await self.insert_new("month_ends", [doc])

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

    async def month_end(self, tenant: str, month: str) -> MonthEnd | None:
        doc = await self.month_ends.find_one({"_id": f"{tenant}:{month}"})
        return month_end_of(doc) if doc is not None else None

    async def finish_month_end(self, tenant: str, month: str) -> None:
        await self.month_ends.update_one({"_id": f"{tenant}:{month}"}, {"$set": {"done": True}})

    async def month_badges_of(self, tenant: str, employee_id: str) -> list[MonthBadge]:
        cursor = self.month_badges.find(
            {"tenant": tenant, "employee_id": employee_id}, {outbox.PENDING: 0}
        )
        return [_month_badge_of(doc) async for doc in cursor]

    # -- tenants -----------------------------------------------------------------------

    async def tenant(self, tenant: str) -> TenantSettings:
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
        return TenantSettings(
            rules=tuple(convert.ruleset_from_doc(v) for v in doc.get("rules") or ()),
            challenges=tuple(convert.challenge_from_doc(c) for c in doc.get("challenges") or ()),
            leaderboard_opt_in=bool(doc.get("leaderboard_opt_in", False)),
            executive_groups=tuple(doc.get("executive_groups") or ()),
        )

    async def _challenges_of(self, tenant: str) -> list[dict[str, Any]]:
        cursor = self.challenges.find({"tenant": tenant}, {"_id": 0, "tenant": 0})
        return [doc async for doc in cursor.sort([("created_at", ASCENDING), ("_id", ASCENDING)])]

    async def add_rule_version(self, tenant: str, expected: int, version: RuleSet) -> bool:
        """Append a rule version if the tenant still has `expected` versions."""
        condition: dict[str, Any] = {"_id": tenant, "rule_count": expected}
        if expected == 0:
            condition["rule_count"] = {"$exists": False}
        try:
            result = await self.tenants.update_one(
                condition,
                {"$push": {"rules": convert.ruleset_doc(version)}, "$inc": {"rule_count": 1}},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return result.matched_count == 1 or result.upserted_id is not None

    async def set_leaderboards(
        self, tenant: str, opt_in: bool, executive_groups: Sequence[str]
    ) -> None:
        fields = {"leaderboard_opt_in": opt_in, "executive_groups": list(executive_groups)}
        await self.tenants.update_one({"_id": tenant}, {"$set": fields}, upsert=True)

    async def add_challenge(self, tenant: str, challenge: Challenge) -> bool:
        """Store a new challenge; False when the tenant has one of that id already.

        An insert keyed by the id, not a check and then a write: the MongoDB-wire server we
        test with runs a conditional update as a read and a write that concurrent requests
        interleave, while an insert with a taken `_id` always fails."""
        doc = {
            **convert.challenge_doc(challenge),
            "_id": f"{tenant}:{challenge.challenge_id}",
            "tenant": tenant,
        }
        try:
            await self.challenges.insert_one(doc)
        except DuplicateKeyError:
            return False
        return True

    # -- catalog and redemptions -------------------------------------------------------

    async def items(self, tenant: str) -> list[Item]:
        return [item_of(doc) async for doc in self.catalog.find({"tenant": tenant}).sort("name")]

    async def item(self, tenant: str, item_id: str) -> Item | None:
        doc = await self.catalog.find_one({"_id": f"{tenant}:{item_id}"})
        return item_of(doc) if doc is not None else None

    async def save_item(self, tenant: str, item: Item, stock: int) -> None:
        """Create or replace an item; `stock` is what was asked to be left to sell."""
        doc = {
            "_id": f"{tenant}:{item.item_id}",
            "tenant": tenant,
            "item_id": item.item_id,
            "name": item.name,
            "price": item.price,
            "stock": stock,
            "capacity": item.capacity,
        }
        await self.catalog.replace_one({"_id": doc["_id"]}, doc, upsert=True)

    # Chains. Where the MongoDB-wire server we test with runs a conditional update as a
    # read and a write that concurrent requests interleave, an insert with a taken `_id`
    # still fails: so a balance or a stock is a chain of inserts, each numbered one past
    # the last, and of two writers of the same number only one gets in.

    async def _chain_head(self, chain: str, owner: str) -> dict[str, Any] | None:
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

    async def last_spend(self, tenant: str, employee_id: str) -> Spend | None:
        """The latest charge or refund of an employee, with the running total spent."""
        head = await self._chain_head("spends", standing_id(tenant, employee_id))
        return spend_of(tenant, head) if head is not None else None

    async def add_spend(self, tenant: str, spend: Spend) -> bool:
        """Charge number `spend.seq` of an employee (a refund when its points are
        negative); False when another charge took that number first."""
        return await self.append("spends", spend_doc(tenant, spend))

    async def units_sold(self, tenant: str, item_id: str) -> int:
        head = await self._chain_head("units", f"{tenant}:{item_id}")
        return int(head["seq"]) if head else 0

    def new_unit(self, box: Outbox, tenant: str, item_id: str, seq: int) -> DocumentWrite:
        """Unit number `seq` of an item sold; it does not land when another redemption
        took that number first."""
        owner = f"{tenant}:{item_id}"
        unit_id = f"{owner}:{seq:09d}"
        unit = {"_id": unit_id, "owner": owner, "seq": seq}
        return DocumentWrite(box, unit_id, new=unit, must_land=False)

    async def spends_of(self, tenant: str, employee_id: str) -> list[Spend]:
        """An employee's charges and refunds, oldest first."""
        cursor = self.spends.find({"owner": standing_id(tenant, employee_id)}).sort(
            "seq", ASCENDING
        )
        return [spend_of(tenant, doc) async for doc in cursor]

    async def tenant_redemption_links(
        self, tenant: str, redemption_id: str | None = None
    ) -> list[Spend]:
        """The charges and refunds of redemptions of every employee of a tenant."""
        where: dict[str, Any] = {
            "owner": {"$regex": f"^{re.escape(tenant)}:"},
            "redemption_id": redemption_id if redemption_id else {"$exists": True},
        }
        return [spend_of(tenant, doc) async for doc in self.spends.find(where)]

    async def fulfilments_of(self, tenant: str) -> dict[str, Fulfilment]:
        """The tenant's fulfilled redemptions by redemption id."""
        cursor = self.fulfilments.find({"tenant": tenant})
        return {doc["redemption_id"]: _fulfilment_of(doc) async for doc in cursor}

    async def add_fulfilment(self, tenant: str, mark: Fulfilment) -> None:
        """Mark a redemption handed over; a mark already there stays as it is."""
        doc = {
            "_id": f"{tenant}:{mark.redemption_id}",
            "tenant": tenant,
            "redemption_id": mark.redemption_id,
            "employee_id": mark.employee_id,
            "fulfilled_at": mark.fulfilled_at,
            "fulfilled_by": mark.fulfilled_by,
        }
        await self.insert_new("fulfilments", [doc])

    async def fulfilment(self, tenant: str, redemption_id: str) -> Fulfilment | None:
        doc = await self.fulfilments.find_one({"_id": f"{tenant}:{redemption_id}"})
        return _fulfilment_of(doc) if doc is not None else None

    async def clawed(self, tenant: str, employee_id: str) -> int:
        cursor = self.clawbacks.find({"tenant": tenant, "employee_id": employee_id}, {"points": 1})
        return sum([doc["points"] async for doc in cursor])

    # -- reward suggestions ------------------------------------------------------------

    async def insert_suggestion(self, tenant: str, suggestion: RewardSuggestion) -> None:
        await self.suggestions.insert_one(
            {
                "_id": f"{tenant}:{suggestion.suggestion_id}",
                "tenant": tenant,
                "suggestion_id": suggestion.suggestion_id,
                "title": suggestion.title,
                "title_key": suggestion.title_key,
                "description": suggestion.description,
                "suggested_by": suggestion.suggested_by,
                "suggested_at": suggestion.suggested_at,
                "status": suggestion.status.value,
            }
        )

    async def suggestion(self, tenant: str, suggestion_id: str) -> RewardSuggestion | None:
        doc = await self.suggestions.find_one({"_id": f"{tenant}:{suggestion_id}"})
        return _suggestion_of(doc) if doc is not None else None

    async def tenant_suggestions(
        self, tenant: str, statuses: Sequence[SuggestionStatus] | None = None
    ) -> list[RewardSuggestion]:
        query: dict[str, Any] = {"tenant": tenant}
        if statuses:
            query["status"] = {"$in": [s.value for s in statuses]}
        return [_suggestion_of(doc) async for doc in self.suggestions.find(query)]

    async def open_suggestion_titled(self, tenant: str, key: str) -> RewardSuggestion | None:
        doc = await self.suggestions.find_one(
            {"tenant": tenant, "title_key": key, "status": SuggestionStatus.OPEN.value}
        )
        return _suggestion_of(doc) if doc is not None else None

    async def open_suggestions_by(self, tenant: str, employee_id: str) -> int:
        return await self.suggestions.count_documents(
            {"tenant": tenant, "suggested_by": employee_id, "status": "open"}
        )

    async def suggestions_by(self, tenant: str, employee_id: str) -> list[RewardSuggestion]:
        cursor = self.suggestions.find({"tenant": tenant, "suggested_by": employee_id})
        return [_suggestion_of(doc) async for doc in cursor.sort("suggested_at", ASCENDING)]

    async def decide_suggestion(
        self,
        tenant: str,
        suggestion_id: str,
        status: SuggestionStatus,
        item_id: str | None,
        decided_at: datetime | None,
        decided_by: str | None,
    ) -> RewardSuggestion | None:
        """Set a suggestion's status (last decision wins); the suggestion as it is now."""
        fields = {
            "status": status.value,
            "item_id": item_id,
            "decided_at": decided_at,
            "decided_by": decided_by,
        }
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

    async def votes_by(self, tenant: str, voter: str) -> list[Vote]:
        return [_vote_of(doc) for doc in await self._vote_docs(tenant, voter)]

    async def _vote_docs(self, tenant: str, voter: str) -> list[dict[str, Any]]:
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
        votes = await self._vote_docs(tenant, employee_id)
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


def _standing_of(doc: dict[str, Any]) -> StandingRecord:
    tenant, _, employee_id = str(doc["_id"]).partition(":")
    return convert.standing_record_of(tenant, employee_id, doc)


# What a leaderboard reads of each standing.
_FIGURES = (
    "employee_id",
    "earned",
    "month_key",
    "month_points",
    "week_key",
    "week_points",
    "groups",
    "department",
    "location",
    "opted_out",
)


def _figures_of(doc: dict[str, Any]) -> Figures:
    return Figures(
        employee_id=doc["employee_id"],
        earned=doc.get("earned", 0),
        month_key=doc.get("month_key"),
        month_points=doc.get("month_points", 0),
        week_key=doc.get("week_key"),
        week_points=doc.get("week_points", 0),
        groups=tuple(doc.get("groups") or ()),
        department=doc.get("department"),
        location=doc.get("location"),
        opted_out=bool(doc.get("opted_out")),
    )


def _choice_of(doc: dict[str, Any]) -> LeaderboardChoice:
    return LeaderboardChoice(
        hidden=bool(doc.get("hidden", False)), opt_in=doc.get("leaderboard_opt_in")
    )


def _clawback_of(doc: dict[str, Any]) -> Clawback:
    return Clawback(
        award_id=doc["_id"],
        employee_id=doc["employee_id"],
        points=doc["points"],
        awarded_at=_utc(doc["awarded_at"]),
        reason=doc.get("reason", ""),
        by=doc.get("by", ""),
    )


def month_end_doc(decided: MonthEnd) -> dict[str, Any]:
    top = decided.top
    return {
        "_id": f"{decided.tenant}:{top.month}",
        "tenant": decided.tenant,
        "month": top.month,
        "ranked": top.ranked,
        "places": top.places,
        "cutoff": top.cutoff,
        "winners": [{"employee_id": e, "points": p} for e, p in top.winners],
        "decided_at": decided.decided_at,
        "done": decided.done,
    }


def month_end_of(doc: dict[str, Any]) -> MonthEnd:
    winners = [(w["employee_id"], w["points"]) for w in doc.get("winners") or []]
    top = MonthTop(doc["month"], doc["ranked"], doc["places"], doc["cutoff"], winners)
    return MonthEnd(
        tenant=doc["tenant"],
        top=top,
        decided_at=_utc(doc["decided_at"]),
        done=bool(doc.get("done", False)),
    )


def _month_badge_of(doc: dict[str, Any]) -> MonthBadge:
    return MonthBadge(
        award_id=doc["_id"],
        employee_id=doc["employee_id"],
        badge=doc["badge"],
        name=doc["name"],
        month=doc["month"],
        points=doc["points"],
        earned_at=_utc(doc["earned_at"]),
    )


def item_of(doc: dict[str, Any]) -> Item:
    return Item(
        item_id=doc["item_id"], name=doc["name"], price=doc["price"], capacity=doc["capacity"]
    )


def spend_doc(tenant: str, spend: Spend) -> dict[str, Any]:
    owner = standing_id(tenant, spend.employee_id)
    link: dict[str, Any] = {
        "_id": f"{owner}:{spend.seq:09d}",
        "owner": owner,
        "seq": spend.seq,
        "points": spend.points,
        "spent": spend.spent,
        "redemption_id": spend.redemption_id,
        "item_id": spend.item_id,
        "at": spend.at,
    }
    if spend.name is not None:
        link["name"] = spend.name
    if spend.refund:
        link["refund"] = True
    return link


def spend_of(tenant: str, doc: dict[str, Any]) -> Spend:
    return Spend(
        employee_id=str(doc["owner"])[len(tenant) + 1 :],
        seq=doc["seq"],
        points=doc["points"],
        spent=doc["spent"],
        redemption_id=doc.get("redemption_id"),
        item_id=doc.get("item_id"),
        name=doc.get("name"),
        at=_utc(at) if (at := doc.get("at")) is not None else None,
        refund=bool(doc.get("refund", False)),
    )


def _fulfilment_of(doc: dict[str, Any]) -> Fulfilment:
    return Fulfilment(
        redemption_id=doc["redemption_id"],
        employee_id=doc["employee_id"],
        fulfilled_at=_utc(doc["fulfilled_at"]),
        fulfilled_by=doc["fulfilled_by"],
    )


def _suggestion_of(doc: dict[str, Any]) -> RewardSuggestion:
    return RewardSuggestion(
        suggestion_id=doc["suggestion_id"],
        title=doc["title"],
        description=doc.get("description"),
        suggested_by=doc["suggested_by"],
        suggested_at=_utc(doc["suggested_at"]),
        status=SuggestionStatus(doc["status"]),
        item_id=doc.get("item_id"),
        decided_at=_utc(at) if (at := doc.get("decided_at")) is not None else None,
        decided_by=doc.get("decided_by"),
    )


def _vote_of(doc: dict[str, Any]) -> Vote:
    return Vote(
        suggestion_id=doc["suggestion_id"], voter=doc["voter"], voted_at=_utc(doc["voted_at"])
    )


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
