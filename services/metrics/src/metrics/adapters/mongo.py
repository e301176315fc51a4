"""Metrics' MongoDB collections: facts per generation, the active-generation pointer,
tenant settings and goals.

Facts live in generations: `facts` (generation 0), `facts_g1`, `facts_g2`, ... A replay
builds the next generation beside the live one and then moves the pointer; the api reads
the pointer on every request and the worker before and after every batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError

from metrics.domain.facts import COUNTERS

DUPLICATE_KEY = 11000
POINTER = "active"


def facts_collection_name(generation: int) -> str:
    return "facts" if generation == 0 else f"facts_g{generation}"


class MetricsRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.generations = db["generations"]
        self.settings = db["settings"]
        self.goals = db["goals"]

    def facts(self, generation: int) -> AsyncCollection[dict[str, Any]]:
        return self.db[facts_collection_name(generation)]

    async def ensure_indexes(self, generation: int | None = None) -> None:
        generation = await self.active_generation() if generation is None else generation
        facts = self.facts(generation)
        await facts.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await facts.create_index([("tenant", ASCENDING), ("type", ASCENDING)])
        await self.goals.create_index([("tenant", ASCENDING)])

    # -- generations ---------------------------------------------------------------------

    async def active_generation(self) -> int:
        doc = await self.generations.find_one({"_id": POINTER})
        return int(doc["generation"]) if doc else 0

    async def next_generation(self) -> int:
        """A generation number no replay has used yet."""
        doc = await self.generations.find_one_and_update(
            {"_id": "counter"},
            {"$inc": {"last": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
        assert doc is not None
        return max(int(doc["last"]), await self.active_generation() + 1)

    async def activate(self, generation: int) -> int:
        """Point readers and writers at `generation`; returns the one it replaces."""
        previous = await self.active_generation()
        await self.generations.update_one(
            {"_id": POINTER}, {"$set": {"generation": generation}}, upsert=True
        )
        return previous

    async def drop_generation(self, generation: int) -> None:
        await self.facts(generation).drop()

    # -- facts ---------------------------------------------------------------------------

    async def insert_facts(
        self, generation: int, facts: Sequence[dict[str, Any]]
    ) -> list[dict[str, Any]]:
        """Insert facts keyed by their event; those already there are skipped.

        Returns the facts this call inserted."""
        if not facts:
            return []
        try:
            await self.facts(generation).insert_many(facts, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(e["code"] != DUPLICATE_KEY for e in errors):
                raise
            skipped = {e["index"] for e in errors}
            return [f for i, f in enumerate(facts) if i not in skipped]
        return list(facts)

    async def copy_facts_before(self, source: int, target: int, time: Any) -> int:
        """Copy the facts of events before `time` into another generation."""
        copied = 0
        chunk: list[dict[str, Any]] = []
        async for fact in self.facts(source).find({"time": {"$lt": time}}):
            chunk.append(fact)
            if len(chunk) == 1000:
                copied += len(await self.insert_facts(target, chunk))
                chunk = []
        copied += len(await self.insert_facts(target, chunk))
        return copied

    async def sums(
        self, generation: int, match: dict[str, Any], by: Sequence[str]
    ) -> list[tuple[tuple[str, ...], dict[str, float]]]:
        """Counters summed over the facts matching `match`, per combination of `by`.

        Summed here rather than with `$group`: FerretDB 1.x computes only the first `$sum`
        of a group stage correctly, and a stage per counter would read the facts 16 times.
        """
        projection = {name: 1 for name in (*by, *COUNTERS)}
        out: dict[tuple[str, ...], dict[str, float]] = {}
        async for fact in self.facts(generation).find(match, projection):
            key = tuple(str(fact.get(field) or "") for field in by)
            row = out.get(key)
            if row is None:
                row = out[key] = dict.fromkeys(COUNTERS, 0)
            for name in COUNTERS:
                value = fact.get(name)
                if value:
                    row[name] += value
        return list(out.items())

    async def find_facts(
        self, generation: int, match: dict[str, Any], fields: Iterable[str]
    ) -> list[dict[str, Any]]:
        projection = {name: 1 for name in fields}
        return [doc async for doc in self.facts(generation).find(match, projection)]

    async def share_groups(self, generation: int, tenant: str) -> set[tuple[str, str]]:
        """(advocate, group) pairs seen on shares."""
        cursor = self.facts(generation).find(
            {"tenant": tenant, "type": "post-shared", "groups": {"$exists": True}},
            {"advocate": 1, "groups": 1},
        )
        return {(fact["advocate"], group) async for fact in cursor for group in fact["groups"]}

    # -- settings and goals --------------------------------------------------------------

    async def tenant_settings(self, tenant: str) -> dict[str, Any]:
        return await self.settings.find_one({"_id": tenant}) or {}

    async def save_settings(self, tenant: str, values: dict[str, Any]) -> None:
        await self.settings.update_one({"_id": tenant}, {"$set": values}, upsert=True)

    async def save_goal(self, tenant: str, goal_id: str, goal: dict[str, Any]) -> None:
        await self.goals.update_one(
            {"_id": f"{tenant}:{goal_id}"},
            {"$set": {**goal, "tenant": tenant, "goal_id": goal_id}},
            upsert=True,
        )

    async def delete_goal(self, tenant: str, goal_id: str) -> bool:
        result = await self.goals.delete_one({"_id": f"{tenant}:{goal_id}"})
        return result.deleted_count == 1

    async def list_goals(self, tenant: str) -> list[dict[str, Any]]:
        cursor = self.goals.find({"tenant": tenant}).sort("goal_id", ASCENDING)
        return [doc async for doc in cursor]
