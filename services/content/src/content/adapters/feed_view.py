"""The employee feed's read model: each api process holds, per tenant, the live items in
feed order and which items each employee shared, and follows the tenant's change log.

Why: on the test server (FerretDB 1.x, SQLite) every query scans its collection, so a
feed page read from MongoDB cost two scans of the items and one of the shared marks
(about 2 s with 10,000 items and 100,000 employees). From memory a page costs well under
a millisecond, whatever the server.

How it stays current:
- Every write that changes what the feed shows (an item created live, edited or moved
  while live, the scheduler's releases and expiries, the worker's share counts and marks,
  a person naming their areas of expertise) calls `record`: the change is applied to this
  process's copy at once (read-your-writes), then the writer takes the next number of the
  tenant's counter (`feed_revisions`, one document per tenant) and logs under it what
  changed (`feed_changes`: the ids of items to read again, share counts, marks, areas
  with the time they were named).
- A refresher reads the tenants' counters every `refresh_seconds`, in one query (a
  tenant seen for the first time is loaded in the background). Where one moved, it reads
  the log entries past the last number it applied, re-reads the items they name and
  applies their share counts, marks and areas. Applying is idempotent and order-free
  (`TenantFeed`), so an entry applied twice does no harm.
- After the startup load, a tenant that is not held and has no counter has neither live
  items nor marks: its first request is answered without reading anything.
- A number taken but not (yet) logged is a gap: what follows is applied, but the position
  stays at the gap for `grace_seconds`, then skips it and reloads the tenant in full.
  A reader that fell behind the log's retention meets a gap too.
- A write whose process died between the write and its log entry, or whose log entry
  could not be written, is caught by the full reload every `reload_seconds` (tenants are
  reloaded one at a time, in the background).
- `live_until` is checked on each request, so expiry never waits for any of this.
- An erasure (`forget`) logs a change that names the person only by their person key
  (every process drops their marks and areas), then deletes the tenant's log entries that
  name them. A process that had not applied a deleted entry meets a gap and, after
  `grace_seconds`, reloads the tenant from the collections, which no longer hold the
  person. Marks, areas and forgets are applied in the log's order, so a person who comes
  back after an erasure keeps what they do then.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections import defaultdict
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.errors import DuplicateKeyError

from content.adapters.mongo import HIDDEN, ContentRepository, item_document
from content.domain.feed import PUBLISHED, FeedChange, TenantFeed
from content.domain.model import Item
from contracts.erasure import person_key

log = logging.getLogger(__name__)

# Documents per batch on full loads: each batch is decoded without yielding to requests.
BATCH = 1000
MARK_FIELDS = {"_id": 0, "tenant": 1, "employee_id": 1, "content_ids": 1}
AREA_FIELDS = {"_id": 0, "tenant": 1, "employee_id": 1, "areas": 1, "stamp": 1}
# FerretDB 1.x may hand one counter value to two concurrent writers (its updates are not
# atomic against each other); the loser of the log insert takes another number.
ATTEMPTS = 20


@dataclass
class _Held:
    feed: TenantFeed
    # The change number up to which every logged change has been applied.
    seen: int
    loaded_at: float
    gap_since: float | None = None


class MongoFeedReadModel:
    def __init__(
        self,
        repo: ContentRepository,
        refresh_seconds: float = 0.5,
        reload_seconds: float = 600.0,
        grace_seconds: float = 5.0,
    ) -> None:
        self._items = repo.items
        self._shared = repo.shared
        self._expertise = repo.expertise
        self._revisions = repo.feed_revisions
        self._changes = repo.feed_changes
        self._refresh_seconds = refresh_seconds
        self._reload_seconds = reload_seconds
        self._grace_seconds = grace_seconds
        self._held: dict[str, _Held] = {}
        self._loading: dict[str, asyncio.Task[_Held]] = {}
        # Changes recorded here while a tenant loads, applied to what the load read.
        self._pending: dict[str, list[FeedChange]] = {}
        # Background reloads, referenced until done (the loop keeps only weak references).
        self._tasks: set[asyncio.Task[None]] = set()
        # Once every tenant with live items or marks is held, a tenant that is not held and
        # has no change counter has neither, and needs no load.
        self._warmed = False

    # -- reading -------------------------------------------------------------------------

    async def tenant(self, tenant: str) -> TenantFeed:
        held = self._held.get(tenant)
        if held is None:
            held = await self._load_once(tenant)
        return held.feed

    async def warm(self) -> None:
        """Hold every tenant that has live items or shared marks, in one pass over each
        collection, so that no request after startup waits for a load."""
        started = time.monotonic()
        numbers = {d["_id"]: int(d.get("rev", 0)) async for d in self._revisions.find({})}
        docs: dict[str, list[dict[str, Any]]] = defaultdict(list)
        async for doc in self._items.find({"status": PUBLISHED}, HIDDEN).batch_size(BATCH):
            docs[doc["tenant"]].append(doc)
        marks: dict[str, list[tuple[str, list[str]]]] = defaultdict(list)
        async for doc in self._shared.find({}, MARK_FIELDS).batch_size(BATCH):
            marks[doc["tenant"]].append((doc["employee_id"], doc.get("content_ids", [])))
        areas: dict[str, list[tuple[str, int, list[str]]]] = defaultdict(list)
        async for doc in self._expertise.find({}, AREA_FIELDS).batch_size(BATCH):
            areas[doc["tenant"]].append(_areas_of(doc))
        now = time.monotonic()
        self._warmed = True
        for tenant in {*numbers, *docs, *marks, *areas}:
            feed = TenantFeed(
                docs.get(tenant, ()), marks.get(tenant, ()), areas.get(tenant, ()), tenant
            )
            # Spread the safety-net reloads over the interval rather than all at once.
            loaded_at = now - random.uniform(0, self._reload_seconds)
            self._held[tenant] = _Held(feed, numbers.get(tenant, 0), loaded_at)
        log.info(
            "feed read model warmed",
            extra={
                "tenants": len(self._held),
                "items": sum(len(d) for d in docs.values()),
                "employees_with_marks": sum(len(m) for m in marks.values()),
                "seconds": round(time.monotonic() - started, 2),
            },
        )

    async def _load_once(self, tenant: str) -> _Held:
        """Load `tenant`, or wait for the load already under way."""
        task = self._loading.get(tenant)
        if task is None:
            task = asyncio.create_task(self._load(tenant), name=f"feed-load-{tenant}")
            self._loading[tenant] = task

            def done(finished: asyncio.Task[_Held]) -> None:
                if self._loading.get(tenant) is finished:
                    del self._loading[tenant]

            task.add_done_callback(done)
        return await asyncio.shield(task)

    async def _load(self, tenant: str) -> _Held:
        self._pending[tenant] = []
        try:
            # The number first: whatever is logged after it is applied again on top of
            # what the load reads, which is harmless.
            counter = await self._revisions.find_one({"_id": tenant})
            if counter is None and self._warmed:
                # Not held at startup and never changed since: nothing live, nothing shared.
                held = _Held(TenantFeed(tenant=tenant), 0, time.monotonic())
                for change in self._pending[tenant]:
                    held.feed.apply(change)
                self._held[tenant] = held
                return held
            seen = int(counter.get("rev", 0)) if counter else 0
            query = {"tenant": tenant, "status": PUBLISHED}
            docs = [d async for d in self._items.find(query, HIDDEN).batch_size(BATCH)]
            marks = [
                (d["employee_id"], d.get("content_ids", []))
                async for d in self._shared.find({"tenant": tenant}, MARK_FIELDS).batch_size(BATCH)
            ]
            areas = [
                _areas_of(d)
                async for d in self._expertise.find({"tenant": tenant}, AREA_FIELDS).batch_size(
                    BATCH
                )
            ]
            held = _Held(TenantFeed(docs, marks, areas, tenant), seen, time.monotonic())
            for change in self._pending[tenant]:
                held.feed.apply(change)
            self._held[tenant] = held
            return held
        finally:
            del self._pending[tenant]

    # -- writing -------------------------------------------------------------------------

    async def record(self, tenant: str, change: FeedChange) -> None:
        self._apply_here(tenant, change)
        try:
            await self._log(tenant, _entry(tenant, change))
        except Exception:
            # The write itself stands (failing the request would invite a duplicate on
            # retry); other processes see it at their next full reload instead.
            log.exception("feed change not logged", extra={"tenant": tenant})

    async def written(self, tenant: str, items: Sequence[Item]) -> None:
        await self.record(tenant, FeedChange(items=tuple(item_document(i) for i in items)))

    async def forget(self, tenant: str, employee: str) -> None:
        """An erased person leaves every process's copy and the log: a change naming them
        only by their person key, then the tenant's log entries that name them are deleted.
        Raises when the change cannot be logged: erasing again is harmless."""
        change = FeedChange(forget=(person_key(tenant, employee),))
        self._apply_here(tenant, change)
        await self._log(tenant, _entry(tenant, change))
        # A process that had not applied a deleted entry meets a gap in the numbers and,
        # after the grace, reloads the tenant from the collections, which no longer hold
        # the person. Erasures are rare: reading the tenant's log (a few minutes of it)
        # costs less than a field naming every employee of every entry.
        naming = [
            doc["_id"]
            async for doc in self._changes.find({"tenant": tenant}, {"marks": 1, "areas": 1})
            if employee in _named(doc)
        ]
        if naming:
            await self._changes.delete_many({"_id": {"$in": naming}})

    def _apply_here(self, tenant: str, change: FeedChange) -> None:
        held = self._held.get(tenant)
        if held is not None:
            held.feed.apply(change)
        if tenant in self._pending:
            self._pending[tenant].append(change)

    async def _log(self, tenant: str, entry: dict[str, Any]) -> None:
        for _ in range(ATTEMPTS):
            number = await self._next_number(tenant)
            try:
                numbered = {"_id": f"{tenant}:{number:015d}", "seq": number, **entry}
                await self._changes.insert_one(numbered)
                return
            except DuplicateKeyError:
                continue
        raise RuntimeError(f"no free change number for tenant {tenant} after {ATTEMPTS} tries")

    async def _next_number(self, tenant: str) -> int:
        for _ in range(ATTEMPTS):
            try:
                doc = await self._revisions.find_one_and_update(
                    {"_id": tenant},
                    {"$inc": {"rev": 1}},
                    upsert=True,
                    return_document=ReturnDocument.AFTER,
                )
            except DuplicateKeyError:
                continue  # two first writes of a tenant upserted at once; the counter exists now
            if doc is not None:
                return int(doc["rev"])
        raise RuntimeError(f"cannot count changes of tenant {tenant}")

    async def purge(self, older_than: datetime) -> int:
        """Forget log entries logged before `older_than` (worker, periodically)."""
        result = await self._changes.delete_many({"at": {"$lt": older_than}})
        return result.deleted_count

    # -- following other processes' changes ------------------------------------------------

    async def run(self) -> None:
        """Refresh for the life of the process; a failed pass leaves what is held as it is."""
        while True:
            try:
                await self.refresh()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("feed refresh failed; the feed serves what it holds")
            await asyncio.sleep(self._refresh_seconds)

    async def refresh(self) -> None:
        """One pass: apply what was logged since the last, and reload one tenant if due."""
        # Every tenant's counter (one small document each): a tenant that had its first
        # change since this process started is loaded now, before its employees ask.
        numbers = {d["_id"]: int(d.get("rev", 0)) async for d in self._revisions.find({})}
        for tenant, number in numbers.items():
            held = self._held.get(tenant)
            if held is None:
                if tenant not in self._loading:
                    self._spawn(self._reload(tenant))
            elif number > held.seen:
                await self._catch_up(tenant, held, number)
        now = time.monotonic()
        due = [t for t, h in self._held.items() if now - h.loaded_at > self._reload_seconds]
        if due and not self._loading:
            oldest = min(due, key=lambda t: self._held[t].loaded_at)
            # In the background: requests keep reading the copy held until it is replaced.
            self._held[oldest].loaded_at = now
            self._spawn(self._reload(oldest))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def close(self) -> None:
        tasks = [*self._tasks, *self._loading.values()]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _reload(self, tenant: str) -> None:
        try:
            await self._load_once(tenant)
        except Exception:
            log.exception("feed reload failed", extra={"tenant": tenant})

    async def _catch_up(self, tenant: str, held: _Held, number: int) -> None:
        query = {"tenant": tenant, "seq": {"$gt": held.seen, "$lte": number}}
        entries = [d async for d in self._changes.find(query).sort("seq", ASCENDING)]
        ids = sorted({item_id for entry in entries for item_id in entry.get("items", [])})
        docs: list[dict[str, Any]] = []
        if ids:
            cursor = self._items.find({"tenant": tenant, "_id": {"$in": ids}}, HIDDEN)
            docs = [doc async for doc in cursor]
        held.feed.apply(FeedChange(items=tuple(docs)))
        # Entry by entry, in the log's order: a forget drops what was named before it, and
        # only that.
        for entry in entries:
            held.feed.apply(_change_of(entry))
        contiguous = held.seen
        for seq in (int(entry["seq"]) for entry in entries):
            if seq != contiguous + 1:
                break
            contiguous = seq
        now = time.monotonic()
        if contiguous == number:
            held.seen, held.gap_since = number, None
            return
        held.seen = contiguous
        if held.gap_since is None:
            held.gap_since = now
        elif now - held.gap_since > self._grace_seconds:
            log.warning(
                "feed change log has a gap; reloading the tenant",
                extra={"tenant": tenant, "missing": contiguous + 1},
            )
            held.seen, held.gap_since = number, None
            self._spawn(self._reload(tenant))


# Fields of the logged rows, in the order of FeedChange's tuples. Rows are documents, not
# arrays: FerretDB 1.x refuses an array inside an array ("nested arrays are not supported"),
# and an entry it refused was never logged (its number left a gap, and every other process
# reloaded the tenant). Rows logged as arrays (by MongoDB, before) are still read.
SHARE_ROW = ("item", "shares")
MARK_ROW = ("employee", "items")
AREA_ROW = ("employee", "stamp", "areas")


def _entry(tenant: str, change: FeedChange) -> dict[str, Any]:
    """A change as logged."""
    return {
        "tenant": tenant,
        "at": datetime.now(UTC),
        "items": sorted({str(doc["_id"]) for doc in change.items}),
        "shares": [dict(zip(SHARE_ROW, row, strict=True)) for row in change.shares],
        "marks": [
            dict(zip(MARK_ROW, (employee, list(ids)), strict=True))
            for employee, ids in change.marks
        ],
        "areas": [
            dict(zip(AREA_ROW, (employee, stamp, list(named)), strict=True))
            for employee, stamp, named in change.areas
        ],
        "forget": list(change.forget),
    }


def _rows(entry: dict[str, Any], field: str, names: tuple[str, ...]) -> list[tuple[Any, ...]]:
    return [
        tuple(row[name] for name in names) if isinstance(row, dict) else tuple(row)
        for row in entry.get(field, [])
    ]


def _change_of(entry: dict[str, Any]) -> FeedChange:
    """A logged change's shares, marks, areas and forgets (its items are read again)."""
    return FeedChange(
        shares=tuple((i, int(n)) for i, n in _rows(entry, "shares", SHARE_ROW)),
        marks=tuple((e, tuple(ids)) for e, ids in _rows(entry, "marks", MARK_ROW)),
        areas=tuple((e, int(t), tuple(a)) for e, t, a in _rows(entry, "areas", AREA_ROW)),
        forget=tuple(entry.get("forget", [])),
    )


def _named(entry: dict[str, Any]) -> set[str]:
    """The employees a logged change names."""
    change = _change_of(entry)
    return {employee for employee, _ in change.marks} | {row[0] for row in change.areas}


def _areas_of(doc: dict[str, Any]) -> tuple[str, int, list[str]]:
    return doc["employee_id"], int(doc.get("stamp", 0)), list(doc.get("areas") or [])


def retention_cutoff(seconds: float) -> datetime:
    return datetime.now(UTC) - timedelta(seconds=seconds)
