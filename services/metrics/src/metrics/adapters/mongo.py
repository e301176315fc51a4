"""Metrics' MongoDB collections: facts per generation, the active-generation pointer,
tenant settings and goals.

Facts live in generations: `facts` (generation 0), `facts_g1`, `facts_g2`, ... A replay
builds the next generation beside the live one and then moves the pointer; the api reads
the pointer on every request and the worker after every batch.

`erasures` lists the advocates who asked for erasure: a hash of tenant and employee id
and the pseudonym their facts carry instead of the id.

`fact_log` holds the worker's batches of facts under consecutive integer `_id`s, each
written before its facts are stored, for the api to read on from where it left off (a
range of `_id`: an index range on MongoDB; FerretDB scans every collection it reads, so
entries are compressed and kept briefly). Entries are removed once older than the
retention; the newest number taken is kept as a hint in `generations`, beside the
pointer. An entry's erasures name the advocate by erasure key, never by id; an erasure
has the entries still naming them written again in place, each under its `rev` (a write
that finds another `rev` lost a race, and reads the entry again).

Every change to a tenant's settings or goals raises a counter there too (`config`), read
with the pointer: the api keeps settings and goals until it moves.
"""

from __future__ import annotations

import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from datetime import date
from typing import Any, NamedTuple

import bson
from bson import Binary
from bson.codec_options import CodecOptions
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import BulkWriteError, DuplicateKeyError

from chassis import outbox
from chassis.kafka import EventPublisher
from chassis.outbox import DocumentWrite
from metrics.domain.facts import COUNTERS, PERSONAL_FIELDS, erasure_key

DUPLICATE_KEY = 11000
POINTER = "active"
LOG_HEAD = "log-head"
CONFIG = "config"


class Pointers(NamedTuple):
    generation: int  # the active one
    settled: bool  # whether a replay has written all of it
    head: int  # the log's head hint
    config: int  # raised by every change to settings and goals


# Facts decoded from the log as they are read from their collection: times with a zone.
FACT_CODEC: CodecOptions[dict[str, Any]] = CodecOptions(tz_aware=True)


def encode_facts(facts: Sequence[dict[str, Any]]) -> Binary:
    """A log entry's facts as one compressed binary value, rather than a document per
    fact: FerretDB decodes every document it scans, and the log is scanned on every read."""
    return Binary(zlib.compress(bson.encode({"facts": list(facts)}), 1))


def decode_facts(blob: bytes) -> list[dict[str, Any]]:
    """The facts of a log entry, as `encode_facts` stored them."""
    facts: list[dict[str, Any]] = bson.decode(zlib.decompress(blob), FACT_CODEC)["facts"]
    return facts


def facts_collection_name(generation: int) -> str:
    return "facts" if generation == 0 else f"facts_g{generation}"


def generation_of(collection: str) -> int | None:
    if collection == "facts":
        return 0
    number = collection.removeprefix("facts_g")
    return int(number) if collection.startswith("facts_g") and number.isdigit() else None


Row = tuple[tuple[str, ...], dict[str, float]]


class MetricsRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.generations = db["generations"]
        self.settings = db["settings"]
        self.goals = db["goals"]
        self.erasures = db["erasures"]
        # Wins told back: the storytellers' decisions about drafted milestones.
        self.wins = db["wins"]
        self.log = db["fact_log"]
        # Where a told win's event waits until it is published (`use_outbox`).
        self.wins_outbox: outbox.Outbox | None = None
        # The next log number this process tries to take.
        self._log_next: int | None = None

    def use_outbox(self, publisher: EventPublisher, lease_seconds: float) -> outbox.Outbox:
        """Give the wins their outbox, which publishes a told win's event; returns it for
        the relay."""
        self.wins_outbox = outbox.Outbox(self.wins, publisher, lease_seconds)
        return self.wins_outbox

    def facts(self, generation: int) -> AsyncCollection[dict[str, Any]]:
        return self.db[facts_collection_name(generation)]

    async def ensure_indexes(self, generation: int | None = None) -> None:
        generation = await self.active_generation() if generation is None else generation
        facts = self.facts(generation)
        await facts.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await facts.create_index([("tenant", ASCENDING), ("type", ASCENDING)])
        await self.goals.create_index([("tenant", ASCENDING)])
        await self.wins.create_index([("tenant", ASCENDING)])
        await outbox.ensure_index(self.wins)

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
        """Point readers and writers at `generation`; returns the one it replaces. The
        generation is not settled yet: its builder still writes to it (`settle`)."""
        previous = await self.active_generation()
        await self.generations.update_one(
            {"_id": POINTER}, {"$set": {"generation": generation, "settled": False}}, upsert=True
        )
        return previous

    async def settle(self, generation: int) -> None:
        """Say that the builder of `generation` has written all it will."""
        await self.generations.update_one(
            {"_id": POINTER, "generation": generation}, {"$set": {"settled": True}}
        )

    async def drop_generation(self, generation: int) -> None:
        await self.facts(generation).drop()

    async def generations_present(self) -> list[int]:
        """Every generation that has a collection: live, previous, and any being built."""
        names = await self.db.list_collection_names()
        return sorted(g for g in map(generation_of, names) if g is not None)

    # -- the fact log ---------------------------------------------------------------------

    async def read_pointers(self) -> Pointers:
        """The pointer, the log's head hint and the settings' counter, in one read of a
        small collection."""
        found = {
            doc["_id"]: doc
            async for doc in self.generations.find({"_id": {"$in": [POINTER, LOG_HEAD, CONFIG]}})
        }
        active = found.get(POINTER) or {}
        return Pointers(
            int(active.get("generation", 0)),
            bool(active.get("settled", True)),
            int((found.get(LOG_HEAD) or {}).get("seq", 0)),
            int((found.get(CONFIG) or {}).get("version", 0)),
        )

    async def log_head(self) -> int:
        """The highest log number taken so far (0 before the first)."""
        hint = (await self.read_pointers()).head
        # The hint is written after each entry, and may lag behind one being written now.
        later = self.log.find({"_id": {"$gt": hint}}, {"_id": 1})
        return max([hint, *[int(doc["_id"]) async for doc in later]])

    async def append_log(
        self, facts: Sequence[dict[str, Any]], erasures: Sequence[tuple[str, str, str]], at: Any
    ) -> int:
        """Write a batch of facts and the erasures it asked for, each (tenant, erasure key,
        pseudonym), under the next free log number; returns the number. A number is taken
        by inserting it, so two writers never share one; each tries the number after the
        head, so none lands below an entry already there."""
        hint = (await self.read_pointers()).head
        self._log_next = max(self._log_next or 1, hint + 1)
        doc = {
            "facts": encode_facts(facts),
            # Documents, not arrays: FerretDB stores no array inside an array.
            "erasures": [
                {"tenant": tenant, "key": key, "pseudonym": pseudonym}
                for tenant, key, pseudonym in erasures
            ],
            "at": at,
            "rev": 0,
        }
        while True:
            try:
                await self.log.insert_one({"_id": self._log_next, **doc})
                break
            except DuplicateKeyError:
                self._log_next += 1
        seq, self._log_next = self._log_next, self._log_next + 1
        await self.generations.update_one({"_id": LOG_HEAD}, {"$max": {"seq": seq}}, upsert=True)
        return seq

    async def log_entries(self, first: int = 0) -> list[dict[str, Any]]:
        """The entries still kept from number `first` on, in order, with their facts. One
        query: FerretDB scans for every filter, so reading them one by one would scan once
        each."""
        cursor = self.log.find({"_id": {"$gte": first}}).sort("_id", ASCENDING)
        entries = [doc async for doc in cursor]
        for entry in entries:
            entry["facts"] = decode_facts(entry["facts"])
        return entries

    async def log_entry(self, seq: int) -> dict[str, Any] | None:
        """One entry with its facts, or None once it is trimmed."""
        entry = await self.log.find_one({"_id": seq})
        if entry is not None:
            entry["facts"] = decode_facts(entry["facts"])
        return entry

    async def rewrite_log_entry(
        self, seq: int, rev: int | None, facts: Sequence[dict[str, Any]]
    ) -> bool:
        """Replace an entry's facts (same `_id`, same erasures) if it is still at `rev`;
        False if another writer rewrote it first, or it is trimmed."""
        version = {"$exists": False} if rev is None else rev  # entries from before `rev`
        result = await self.log.update_one(
            {"_id": seq, "rev": version},
            {"$set": {"facts": encode_facts(facts), "rev": (rev or 0) + 1}},
        )
        return result.modified_count == 1

    async def trim_log(self, before: Any) -> int:
        """Remove the entries written before `before`; returns how many."""
        result = await self.log.delete_many({"at": {"$lt": before}})
        return result.deleted_count

    async def all_facts(self, generation: int) -> AsyncIterator[dict[str, Any]]:
        """Every fact of a generation. Whole: facts are small, and FerretDB takes half as
        long again to send a projection of them."""
        async for fact in self.facts(generation).find({}, batch_size=10_000):
            yield fact

    # -- erasure -------------------------------------------------------------------------

    async def erased(self) -> dict[str, str]:
        """Erasure key -> pseudonym of every erased advocate."""
        return {doc["_id"]: doc["pseudonym"] async for doc in self.erasures.find({})}

    async def record_erasure(self, key: str, tenant: str, pseudonym: str) -> str:
        """List an advocate as erased; returns their pseudonym (the first one given)."""
        try:
            await self.erasures.insert_one({"_id": key, "tenant": tenant, "pseudonym": pseudonym})
        except DuplicateKeyError:
            doc = await self.erasures.find_one({"_id": key})
            assert doc is not None
            return str(doc["pseudonym"])
        return pseudonym

    async def is_erased(self, tenant: str, employee: str) -> bool:
        return await self.erasures.find_one({"_id": erasure_key(tenant, employee)}) is not None

    async def erase_person(self, tenant: str, employee: str, pseudonym: str) -> None:
        """What names an erased person outside the facts: the wins they decided go by their
        pseudonym, and they are no longer one of the tenant's storytellers."""
        await self.wins.update_many(
            {"tenant": tenant, "decided_by": employee}, {"$set": {"decided_by": pseudonym}}
        )
        result = await self.settings.update_one(
            {"_id": tenant, "storytellers": employee}, {"$pull": {"storytellers": employee}}
        )
        if result.modified_count:
            await self._config_changed()

    async def erase_advocate(
        self, generation: int, tenant: str, employee: str, pseudonym: str
    ) -> int:
        """Give every fact of an advocate in `generation` their pseudonym instead of their
        id, without their personal fields; returns how many facts changed."""
        result = await self.facts(generation).update_many(
            {"tenant": tenant, "advocate": employee},
            {
                "$set": {"advocate": pseudonym},
                "$unset": dict.fromkeys(PERSONAL_FIELDS, ""),
            },
        )
        return result.modified_count

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

    async def facts_before(
        self, generation: int, time: Any, chunk_size: int = 1000
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """The facts of events before `time`, in chunks."""
        chunk: list[dict[str, Any]] = []
        async for fact in self.facts(generation).find({"time": {"$lt": time}}):
            chunk.append(fact)
            if len(chunk) == chunk_size:
                yield chunk
                chunk = []
        if chunk:
            yield chunk

    async def totals(
        self,
        generation: int,
        tenant: str,
        *,
        advocate: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> dict[str, float]:
        """Every counter summed over a tenant's facts (one advocate's, of the days from
        `start` to `end` inclusive, when given); empty when there are none."""
        match: dict[str, Any] = {"tenant": tenant}
        if advocate is not None:
            match["advocate"] = advocate
        if start or end:
            match["day"] = {
                op: value.isoformat() for op, value in (("$gte", start), ("$lte", end)) if value
            }
        rows = await self._sums(generation, match, ())
        return rows[0][1] if rows else {}

    async def conversions_per_day_and_content(
        self, generation: int, tenant: str, since: date
    ) -> list[Row]:
        """Counters per (day, content, kind) of the tenant's facts with conversions, from
        `since` on."""
        match = {"tenant": tenant, "day": {"$gte": since.isoformat()}, "conversions": {"$gt": 0}}
        return await self._sums(generation, match, ("day", "content", "kind"))

    async def facts_of_types(
        self,
        generation: int,
        types: Iterable[str],
        fields: Iterable[str],
        tenant: str | None = None,
    ) -> list[dict[str, Any]]:
        """The `fields` of every fact of one of `types` (of one tenant, when given)."""
        match: dict[str, Any] = {"type": {"$in": list(types)}}
        if tenant is not None:
            match["tenant"] = tenant
        return await self._find_facts(generation, match, fields)

    async def engagements_since(
        self, generation: int, tenant: str, since: date, fields: Iterable[str]
    ) -> list[dict[str, Any]]:
        """The `fields` of a tenant's engagement facts from `since` on."""
        match = {
            "tenant": tenant,
            "type": "engagement-observed",
            "day": {"$gte": since.isoformat()},
        }
        return await self._find_facts(generation, match, fields)

    async def _sums(self, generation: int, match: dict[str, Any], by: Sequence[str]) -> list[Row]:
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

    async def _find_facts(
        self, generation: int, match: dict[str, Any], fields: Iterable[str]
    ) -> list[dict[str, Any]]:
        projection = {name: 1 for name in fields}
        return [doc async for doc in self.facts(generation).find(match, projection)]

    async def facts_of_advocate(
        self, generation: int, tenant: str, employee: str, after: str | None, limit: int
    ) -> list[dict[str, Any]]:
        """One advocate's facts in `_id` order, from after `after`."""
        query: dict[str, Any] = {"tenant": tenant, "advocate": employee}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self.facts(generation).find(query).sort("_id", ASCENDING).limit(limit)
        return [doc async for doc in cursor]

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
        await self._config_changed()

    async def save_goal(self, tenant: str, goal_id: str, goal: dict[str, Any]) -> None:
        await self.goals.update_one(
            {"_id": f"{tenant}:{goal_id}"},
            {"$set": {**goal, "tenant": tenant, "goal_id": goal_id}},
            upsert=True,
        )
        await self._config_changed()

    async def delete_goal(self, tenant: str, goal_id: str) -> bool:
        result = await self.goals.delete_one({"_id": f"{tenant}:{goal_id}"})
        await self._config_changed()
        return result.deleted_count == 1

    async def _config_changed(self) -> None:
        """After the change is written: a reader that sees the new counter sees the change."""
        await self.generations.update_one({"_id": CONFIG}, {"$inc": {"version": 1}}, upsert=True)

    async def list_goals(self, tenant: str) -> list[dict[str, Any]]:
        cursor = self.goals.find({"tenant": tenant}).sort("goal_id", ASCENDING)
        return [doc async for doc in cursor]

    # -- wins told back ------------------------------------------------------------------

    async def list_wins(self, tenant: str) -> list[dict[str, Any]]:
        cursor = self.wins.find(
            {"tenant": tenant}, {outbox.PENDING: 0, outbox.COUNT: 0, outbox.LEASE: 0}
        )
        return [doc async for doc in cursor.sort("decided_at", -1)]

    def win_decided(self, doc: dict[str, Any]) -> DocumentWrite:
        """The write that stores a decision about a drafted win, with its events; it does
        not land (`Conflict`) when the win was decided already."""
        assert self.wins_outbox is not None, "the wins' outbox is wired at start-up"
        return DocumentWrite(
            self.wins_outbox,
            doc["_id"],
            new=doc,
            conflict=f"win_id: {doc['win_id']} was decided already",
        )
