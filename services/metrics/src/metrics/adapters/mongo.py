"""Metrics' MongoDB collections: facts per generation, the active-generation pointer,
tenant settings and goals.

Facts live in generations: `facts` (generation 0), `facts_g1`, `facts_g2`, ... A replay
builds the next generation beside the live one and then moves the pointer; the api reads
the pointer on every request and the worker after every batch.

`erasures` lists the advocates who asked for erasure: a hash of tenant and employee id
and the pseudonym their facts carry instead of the id.

`fact_log` holds the worker's batches of facts under consecutive integer `_id`s, each
written together with its facts, for the api to read on from where it left off (a
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

import time
import zlib
from collections import defaultdict
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

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
from metrics.domain import figures as fig
from metrics.domain.facts import (
    COUNTERS,
    PERSONAL_FIELDS,
    Fact,
    LogEntry,
    LoggedErasure,
    RolledDay,
    erasure_key,
    late_erasures,
    pseudonymized,
)
from metrics.domain.moments import ENGAGING, Engagement
from metrics.domain.program import Goal, Settings
from metrics.domain.retention import DEFAULT_DAYS, ENGAGEMENT, ROLLED, EngagementDay
from metrics.domain.wins import Decision, WinStatus

if TYPE_CHECKING:
    from metrics.adapters.memory import FactTable

DUPLICATE_KEY = 11000
POINTER = "active"
LOG_HEAD = "log-head"
# How long a writer takes the number after its own last entry as the next free one
# without reading the head hint; far below the log's shortest retention (see append_log).
LOG_NEXT_TRUSTED_SECONDS = 5.0
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


def entry_of(doc: Mapping[str, Any]) -> LogEntry:
    """A log entry as `MetricsRepository.append_log` stored it (or as a worker from before
    erasure keys did: naming the erased by id)."""
    return LogEntry(
        seq=int(doc["_id"]),
        rev=doc.get("rev"),
        facts=decode_facts(doc["facts"]),
        erasures=tuple(
            LoggedErasure(
                e["tenant"],
                e.get("key") or erasure_key(e["tenant"], e["employee"]),
                e["pseudonym"],
            )
            for e in doc.get("erasures") or ()
        ),
        rolled=tuple(RolledDay(r["tenant"], r["day"]) for r in doc.get("rolled") or ()),
    )


def _fact_of(doc: Mapping[str, Any]) -> Fact:
    return Fact(
        id=doc["_id"],
        type=doc["type"],
        time=doc["time"],
        day=doc["day"],
        content=doc.get("content"),
        network=doc.get("network"),
        campaign=doc.get("campaign"),
        kind=doc.get("kind"),
        groups=list(doc.get("groups") or ()),
        department=doc.get("department"),
        location=doc.get("location"),
        share_location=doc.get("share_location"),
        topics=list(doc.get("topics") or ()),
        status=doc.get("status"),
        badge=doc.get("badge"),
        version=doc.get("version"),
        counters={name: doc[name] for name in COUNTERS if doc.get(name)},
    )


def _engagement_of(doc: Mapping[str, Any]) -> Engagement:
    at: datetime = doc["time"]
    return Engagement(
        at if at.tzinfo is not None else at.replace(tzinfo=UTC),
        str(doc.get("network") or ""),
        sum(int(doc.get(name) or 0) for name in ENGAGING),
    )


def _settings_of(doc: Mapping[str, Any]) -> Settings:
    return Settings(
        prices=fig.Prices(**(doc.get("prices") or {})),
        employees=doc.get("employees"),
        storytellers=tuple(doc.get("storytellers") or ()),
        time_zone=str(doc.get("time_zone") or "UTC"),
        detail_retention_days=int(doc.get("detail_retention_days") or DEFAULT_DAYS),
    )


def _settings_doc(settings: Settings) -> dict[str, Any]:
    prices = settings.prices
    return {
        "prices": {
            "currency": prices.currency,
            "cpm": dict(prices.cpm),
            "cpc": prices.cpc,
            "per_engagement": prices.per_engagement,
        },
        "employees": settings.employees,
        "storytellers": list(settings.storytellers),
        "time_zone": settings.time_zone,
        "detail_retention_days": settings.detail_retention_days,
    }


def _goal_of(doc: Mapping[str, Any]) -> Goal:
    return Goal(
        goal_id=doc["goal_id"],
        name=doc["name"],
        metric=doc["metric"],
        target=doc["target"],
        start=date.fromisoformat(doc["start"]),
        end=date.fromisoformat(doc["end"]),
        filters=dict(doc.get("filters") or {}),
    )


def _goal_doc(goal: Goal) -> dict[str, Any]:
    return {
        "name": goal.name,
        "metric": goal.metric,
        "target": goal.target,
        "start": goal.start.isoformat(),
        "end": goal.end.isoformat(),
        "filters": dict(goal.filters),
    }


def _decision_of(doc: Mapping[str, Any]) -> Decision:
    at: datetime = doc["decided_at"]
    return Decision(
        win_id=doc["win_id"],
        milestone=doc["milestone"],
        values=doc.get("values") or {},
        status=WinStatus(doc["status"]),
        decided_by=doc["decided_by"],
        decided_at=at if at.tzinfo else at.replace(tzinfo=UTC),
        text=doc.get("text"),
    )


def _decision_doc(tenant: str, decision: Decision) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "_id": f"{tenant}:{decision.win_id}",
        "tenant": tenant,
        "win_id": decision.win_id,
        "milestone": decision.milestone,
        "values": decision.values,
        "status": decision.status.value,
        "decided_by": decision.decided_by,
        "decided_at": decision.decided_at,
    }
    if decision.text is not None:
        doc["text"] = decision.text
    return doc


Row = tuple[tuple[str, ...], dict[str, float]]


class MetricsRepository:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self._db = db
        self._generations = db["generations"]
        self._settings = db["settings"]
        self._goals = db["goals"]
        self._erasures = db["erasures"]
        # Wins told back: the storytellers' decisions about drafted milestones.
        self._wins = db["wins"]
        self._log = db["fact_log"]
        # Where a told win's event waits until it is published (`use_outbox`).
        self.wins_outbox: outbox.Outbox | None = None
        # The next log number this process tries to take.
        self._log_next: int | None = None
        # When this process last wrote an entry (monotonic seconds).
        self._log_at = float("-inf")

    def use_outbox(self, publisher: EventPublisher, lease_seconds: float) -> outbox.Outbox:
        """Give the wins their outbox, which publishes a told win's event; returns it for
        the relay."""
        self.wins_outbox = outbox.Outbox(self._wins, publisher, lease_seconds)
        return self.wins_outbox

    def _facts(self, generation: int) -> AsyncCollection[dict[str, Any]]:
        return self._db[facts_collection_name(generation)]

    async def ensure_indexes(self, generation: int | None = None) -> None:
        generation = await self.active_generation() if generation is None else generation
        facts = self._facts(generation)
        await facts.create_index([("tenant", ASCENDING), ("day", ASCENDING)])
        await facts.create_index([("tenant", ASCENDING), ("type", ASCENDING)])
        await self._goals.create_index([("tenant", ASCENDING)])
        await self._wins.create_index([("tenant", ASCENDING)])
        await outbox.ensure_index(self._wins)

    # -- generations ---------------------------------------------------------------------

    async def active_generation(self) -> int:
        doc = await self._generations.find_one({"_id": POINTER})
        return int(doc["generation"]) if doc else 0

    async def next_generation(self) -> int:
        """A generation number no replay has used yet."""
        doc = await self._generations.find_one_and_update(
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
        await self._generations.update_one(
            {"_id": POINTER}, {"$set": {"generation": generation, "settled": False}}, upsert=True
        )
        return previous

    async def settle(self, generation: int) -> None:
        """Say that the builder of `generation` has written all it will."""
        await self._generations.update_one(
            {"_id": POINTER, "generation": generation}, {"$set": {"settled": True}}
        )

    async def drop_generation(self, generation: int) -> None:
        await self._facts(generation).drop()

    async def generations_present(self) -> list[int]:
        """Every generation that has a collection: live, previous, and any being built."""
        names = await self._db.list_collection_names()
        return sorted(g for g in map(generation_of, names) if g is not None)

    # -- the fact log ---------------------------------------------------------------------

    async def read_pointers(self) -> Pointers:
        """The pointer, the log's head hint and the settings' counter, in one read of a
        small collection."""
        found = {
            doc["_id"]: doc
            async for doc in self._generations.find({"_id": {"$in": [POINTER, LOG_HEAD, CONFIG]}})
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
        later = self._log.find({"_id": {"$gt": hint}}, {"_id": 1})
        return max([hint, *[int(doc["_id"]) async for doc in later]])

    async def append_log(
        self,
        facts: Sequence[dict[str, Any]],
        erasures: Sequence[tuple[str, str, str]],
        at: Any,
        rolled: Sequence[RolledDay] = (),
    ) -> int:
        """Write a batch of facts and the erasures it asked for, each (tenant, erasure key,
        pseudonym), under the next free log number; returns the number. A number is taken
        by inserting it, so two writers never share one; each tries the number after the
        newest it knows, so none lands below an entry already there.

        The newest it knows is the one after its own last entry while that is recent, and
        the head hint otherwise: numbers are taken without gaps, so every number above its
        own last is taken or free, unless the trim removed it, which takes an entry older
        than the retention (30 s at least), never one written since a recent entry of
        ours. `log_written` moves the hint; callers write it beside the facts."""
        recent = time.monotonic() - self._log_at < LOG_NEXT_TRUSTED_SECONDS
        if self._log_next is None or not recent:
            self._log_next = max(self._log_next or 1, (await self.read_pointers()).head + 1)
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
        if rolled:
            doc["rolled"] = [{"tenant": tenant, "day": day} for tenant, day in rolled]
        while True:
            try:
                await self._log.insert_one({"_id": self._log_next, **doc})
                break
            except DuplicateKeyError:
                # Another writer took it: jump to the hint, past the entries it names.
                hint = (await self.read_pointers()).head
                self._log_next = max(self._log_next + 1, hint + 1)
        seq, self._log_next = self._log_next, self._log_next + 1
        self._log_at = time.monotonic()
        return seq

    async def log_written(self, seq: int) -> None:
        """Move the head hint up to `seq`, an entry this process wrote."""
        await self._generations.update_one({"_id": LOG_HEAD}, {"$max": {"seq": seq}}, upsert=True)

    async def log_entries(self, first: int = 0) -> list[LogEntry]:
        """The entries still kept from number `first` on, in order, with their facts. One
        query: FerretDB scans for every filter, so reading them one by one would scan once
        each."""
        cursor = self._log.find({"_id": {"$gte": first}}).sort("_id", ASCENDING)
        return [entry_of(doc) async for doc in cursor]

    async def log_entry(self, seq: int) -> LogEntry | None:
        """One entry with its facts, or None once it is trimmed."""
        doc = await self._log.find_one({"_id": seq})
        return None if doc is None else entry_of(doc)

    async def rewrite_log_entry(
        self, seq: int, rev: int | None, facts: Sequence[dict[str, Any]]
    ) -> bool:
        """Replace an entry's facts (same `_id`, same erasures) if it is still at `rev`;
        False if another writer rewrote it first, or it is trimmed."""
        version = {"$exists": False} if rev is None else rev  # entries from before `rev`
        result = await self._log.update_one(
            {"_id": seq, "rev": version},
            {"$set": {"facts": encode_facts(facts), "rev": (rev or 0) + 1}},
        )
        return result.modified_count == 1

    async def trim_log(self, before: Any) -> int:
        """Remove the entries written before `before`; returns how many."""
        result = await self._log.delete_many({"at": {"$lt": before}})
        return result.deleted_count

    async def load(self, table: FactTable, chunk_size: int = 10_000) -> AsyncIterator[int]:
        """Add every fact of the table's generation to it, `chunk_size` at a time; yields
        the number added after each chunk, for the caller to read the log between them.
        Whole: facts are small, and FerretDB takes half as long again to send a projection
        of them."""
        chunk: list[dict[str, Any]] = []
        async for fact in self._facts(table.generation).find({}, batch_size=10_000):
            chunk.append(fact)
            if len(chunk) == chunk_size:
                yield table.add(chunk)
                chunk = []
        yield table.add(chunk)

    # -- erasure -------------------------------------------------------------------------

    async def erased(self) -> dict[str, str]:
        """Erasure key -> pseudonym of every erased advocate."""
        return {doc["_id"]: doc["pseudonym"] async for doc in self._erasures.find({})}

    async def record_erasure(self, key: str, tenant: str, pseudonym: str) -> str:
        """List an advocate as erased; returns their pseudonym (the first one given)."""
        try:
            await self._erasures.insert_one({"_id": key, "tenant": tenant, "pseudonym": pseudonym})
        except DuplicateKeyError:
            doc = await self._erasures.find_one({"_id": key})
            assert doc is not None
            return str(doc["pseudonym"])
        return pseudonym

    async def is_erased(self, tenant: str, employee: str) -> bool:
        return await self._erasures.find_one({"_id": erasure_key(tenant, employee)}) is not None

    async def erase_person(self, tenant: str, employee: str, pseudonym: str) -> None:
        """What names an erased person outside the facts: the wins they decided go by their
        pseudonym, and they are no longer one of the tenant's storytellers."""
        await self._wins.update_many(
            {"tenant": tenant, "decided_by": employee}, {"$set": {"decided_by": pseudonym}}
        )
        result = await self._settings.update_one(
            {"_id": tenant, "storytellers": employee}, {"$pull": {"storytellers": employee}}
        )
        if result.modified_count:
            await self._config_changed()

    async def erase_advocate(
        self, generation: int, tenant: str, employee: str, pseudonym: str
    ) -> int:
        """Give every fact of an advocate in `generation` their pseudonym instead of their
        id, without their personal fields; returns how many facts changed."""
        result = await self._facts(generation).update_many(
            {"tenant": tenant, "advocate": employee},
            {
                "$set": {"advocate": pseudonym},
                "$unset": dict.fromkeys(PERSONAL_FIELDS, ""),
            },
        )
        return result.modified_count

    # -- facts ---------------------------------------------------------------------------

    async def insert_facts(self, generation: int, facts: Sequence[dict[str, Any]]) -> list[int]:
        """Insert facts (as `fact_of` makes them, with their id) keyed by their event;
        those already there are skipped.

        Returns the positions in `facts` of those this call inserted."""
        if not facts:
            return []
        try:
            await self._facts(generation).insert_many(facts, ordered=False)
        except BulkWriteError as exc:
            errors = exc.details["writeErrors"]
            if any(e["code"] != DUPLICATE_KEY for e in errors):
                raise
            skipped = {e["index"] for e in errors}
            return [i for i in range(len(facts)) if i not in skipped]
        return list(range(len(facts)))

    async def copy_facts(
        self, source: int, target: int, before: datetime, chunk_size: int = 1000
    ) -> int:
        """Copy the facts of events before `before` from generation `source` into
        `target`, in chunks; returns how many were inserted. Erasures apply as the worker
        applies them: each chunk is pseudonymized as the list of erased advocates says,
        and the list is read again after its write, the facts of advocates listed
        meanwhile rewritten."""
        copied = 0
        erased = await self.erased()
        async for chunk in self._facts_before(source, before, chunk_size):
            copied += len(await self.insert_facts(target, pseudonymized(chunk, erased)))
            erased = await self.erased()
            for tenant, employee, pseudonym in late_erasures(chunk, erased):
                await self.erase_advocate(target, tenant, employee, pseudonym)
        return copied

    async def _facts_before(
        self, generation: int, time: datetime, chunk_size: int
    ) -> AsyncIterator[list[dict[str, Any]]]:
        chunk: list[dict[str, Any]] = []
        async for fact in self._facts(generation).find({"time": {"$lt": time}}):
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

    async def advocates(self, generation: int) -> dict[str, dict[str, fig.Advocate]]:
        """Per tenant, who its advocates are, as their enrollments and opt-outs tell."""
        match = {"type": {"$in": list(fig.ADVOCATE_TYPES)}}
        facts = await self._find_facts(generation, match, ("tenant", "type", "time", "advocate"))
        by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for fact in facts:
            by_tenant[fact["tenant"]].append(fact)
        return {tenant: fig.advocates(items) for tenant, items in by_tenant.items()}

    async def content_items(self, generation: int, tenant: str) -> dict[str, fig.ContentItem]:
        """A tenant's content catalog, as its content facts tell."""
        match = {"type": {"$in": list(fig.CONTENT_TYPES)}, "tenant": tenant}
        fields = ("type", "time", "content", "title", "kind", "campaign")
        return fig.catalog(await self._find_facts(generation, match, fields))

    async def engagements_since(
        self, generation: int, tenant: str, since: date
    ) -> list[Engagement]:
        """A tenant's engagement from `since` on, one per engagement fact."""
        match = {
            "tenant": tenant,
            "type": "engagement-observed",
            "day": {"$gte": since.isoformat()},
        }
        fields = ("time", "network", *ENGAGING)
        return [_engagement_of(doc) for doc in await self._find_facts(generation, match, fields)]

    async def _sums(self, generation: int, match: dict[str, Any], by: Sequence[str]) -> list[Row]:
        """Counters summed over the facts matching `match`, per combination of `by`.

        Summed here rather than with `$group`: FerretDB 1.x computes only the first `$sum`
        of a group stage correctly, and a stage per counter would read the facts 16 times.
        """
        projection = {name: 1 for name in (*by, *COUNTERS)}
        out: dict[tuple[str, ...], dict[str, float]] = {}
        async for fact in self._facts(generation).find(match, projection):
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
        return [doc async for doc in self._facts(generation).find(match, projection)]

    async def facts_of_advocate(
        self, generation: int, tenant: str, employee: str, after: str | None, limit: int
    ) -> list[Fact]:
        """One advocate's facts in id order, from after the one with id `after`."""
        query: dict[str, Any] = {"tenant": tenant, "advocate": employee}
        if after is not None:
            query["_id"] = {"$gt": after}
        cursor = self._facts(generation).find(query).sort("_id", ASCENDING).limit(limit)
        return [_fact_of(doc) async for doc in cursor]

    async def share_groups(self, generation: int, tenant: str) -> set[tuple[str, str]]:
        """(advocate, group) pairs seen on shares."""
        cursor = self._facts(generation).find(
            {"tenant": tenant, "type": "post-shared", "groups": {"$exists": True}},
            {"advocate": 1, "groups": 1},
        )
        return {(fact["advocate"], group) async for fact in cursor for group in fact["groups"]}

    # -- retention ------------------------------------------------------------------------

    async def days_with_detail(self, generation: int, before: date) -> dict[str, list[str]]:
        """Per tenant, the days before `before` that still have engagement detail, oldest
        first."""
        match = {"type": ENGAGEMENT, ROLLED: {"$exists": False}, "day": {"$lt": before.isoformat()}}
        pipeline: list[dict[str, Any]] = [
            {"$match": match},
            {"$group": {"_id": {"tenant": "$tenant", "day": "$day"}}},
        ]
        found: dict[str, list[str]] = defaultdict(list)
        async for doc in await self._facts(generation).aggregate(pipeline):
            found[doc["_id"]["tenant"]].append(doc["_id"]["day"])
        return {tenant: sorted(days) for tenant, days in found.items()}

    async def engagement_of_day(
        self, generation: int, tenant: str, day: str, *, rolled: bool
    ) -> EngagementDay:
        """A tenant's engagement facts of one day: its detail, or its roll-ups."""
        match = {"tenant": tenant, "day": day, "type": ENGAGEMENT, ROLLED: {"$exists": rolled}}
        return EngagementDay(
            tenant, day, [fact async for fact in self._facts(generation).find(match)]
        )

    async def delete_detail(self, generation: int, tenant: str, days: Sequence[str]) -> int:
        """Remove a tenant's engagement detail of `days` (their roll-ups stay)."""
        result = await self._facts(generation).delete_many(
            {
                "tenant": tenant,
                "day": {"$in": list(days)},
                "type": ENGAGEMENT,
                ROLLED: {"$exists": False},
            }
        )
        return result.deleted_count

    async def copy_rollups(self, source: int, target: int, chunk_size: int = 1000) -> int:
        """Copy every roll-up of generation `source` into `target` (a replay's: the events
        they sum are no longer recorded); returns how many were inserted."""
        copied = 0
        chunk: list[dict[str, Any]] = []
        erased = await self.erased()
        async for fact in self._facts(source).find({ROLLED: {"$exists": True}}):
            chunk.append(fact)
            if len(chunk) == chunk_size:
                copied += len(await self.insert_facts(target, pseudonymized(chunk, erased)))
                chunk = []
        copied += len(await self.insert_facts(target, pseudonymized(chunk, erased)))
        return copied

    # -- settings and goals --------------------------------------------------------------

    async def tenant_settings(self, tenant: str) -> Settings:
        """The tenant's settings; the defaults until it saved any."""
        return _settings_of(await self._settings.find_one({"_id": tenant}) or {})

    async def save_settings(self, tenant: str, settings: Settings) -> None:
        await self._settings.update_one(
            {"_id": tenant}, {"$set": _settings_doc(settings)}, upsert=True
        )
        await self._config_changed()

    async def save_goal(self, tenant: str, goal: Goal) -> None:
        await self._goals.update_one(
            {"_id": f"{tenant}:{goal.goal_id}"},
            {"$set": {**_goal_doc(goal), "tenant": tenant, "goal_id": goal.goal_id}},
            upsert=True,
        )
        await self._config_changed()

    async def delete_goal(self, tenant: str, goal_id: str) -> bool:
        result = await self._goals.delete_one({"_id": f"{tenant}:{goal_id}"})
        await self._config_changed()
        return result.deleted_count == 1

    async def _config_changed(self) -> None:
        """After the change is written: a reader that sees the new counter sees the change."""
        await self._generations.update_one({"_id": CONFIG}, {"$inc": {"version": 1}}, upsert=True)

    async def list_goals(self, tenant: str) -> list[Goal]:
        cursor = self._goals.find({"tenant": tenant}).sort("goal_id", ASCENDING)
        return [_goal_of(doc) async for doc in cursor]

    # -- wins told back ------------------------------------------------------------------

    async def list_wins(self, tenant: str) -> list[Decision]:
        """The decisions about the tenant's wins, the latest first."""
        cursor = self._wins.find(
            {"tenant": tenant}, {outbox.PENDING: 0, outbox.COUNT: 0, outbox.LEASE: 0}
        )
        return [_decision_of(doc) async for doc in cursor.sort("decided_at", -1)]

    def win_decided(self, tenant: str, decision: Decision) -> DocumentWrite:
        """The write that stores a decision about a drafted win, with its events; it does
        not land (`Conflict`) when the win was decided already."""
        assert self.wins_outbox is not None, "the wins' outbox is wired at start-up"
        doc = _decision_doc(tenant, decision)
        return DocumentWrite(
            self.wins_outbox,
            doc["_id"],
            new=doc,
            conflict=f"win_id: {decision.win_id} was decided already",
        )
