"""Recording clicks: group commit to MongoDB, then publish in bulk.

A redirect waits only for its click to be durable, never for Kafka. Clicks arriving while
a write is in flight are written together by the next one: one document per batch, whose
outbox holds the batch's EngagementObserved events, so one MongoDB round trip serves many
requests. (One document per click would need an `update_many` over the batch to clear
them, which the MongoDB-wire server we test on runs in time quadratic in the batch.)
Once the batch is durable this process publishes its events and deletes the document.
While Kafka is slow or away the events simply stay staged: this process keeps trying,
and should it die, the worker's relay publishes them once their lease has run out.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from prometheus_client import Counter, Histogram
from pymongo.errors import BulkWriteError

from chassis import outbox
from chassis.faults import checkpoint
from chassis.kafka import EventPublisher
from contracts import (
    EngagementKind,
    EngagementSource,
)
from share.adapters.mongo import ShareRepository
from share.domain.clicks import is_unique
from share.domain.engagements import engagement_on_share

log = logging.getLogger(__name__)

CLICK_BATCH = Histogram(
    "chorus_share_click_batch_size",
    "Clicks written per MongoDB round trip",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
CLICK_WRITE_SECONDS = Histogram(
    "chorus_share_click_write_seconds",
    "Time to make one batch of clicks durable",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CLICKS_PUBLISHED = Counter(
    "chorus_share_clicks_published_total", "Click events published by the api itself"
)
CLICK_PUBLISH_FAILURES = Counter(
    "chorus_share_click_publish_failures_total",
    "Click events left staged for a later publish (Kafka slow or away)",
)


@dataclass
class _Pending:
    share: dict[str, Any]
    visitor: str
    at: datetime
    done: asyncio.Future[None]
    unique: bool = False


@dataclass
class _Batch:
    """A written batch document and the events of it still to publish."""

    doc_id: str
    events: dict[str, tuple[str, str, bytes]]  # event id -> (topic, key, value)
    # After this, the worker's relay may take the events over: publishing them here too
    # would publish them twice.
    give_up_at: float


@dataclass
class ClickRecorder:
    repo: ShareRepository
    publisher: EventPublisher
    lease_seconds: float
    max_batch: int = 500
    # Beyond this many events waiting to be published, new ones are left to the relay.
    max_unpublished: int = 50_000
    retry_pause: float = 1.0
    _queue: list[_Pending] = field(default_factory=list)
    _unpublished: list[_Batch] = field(default_factory=list)
    # visit key -> this process's last unique click of it; a recent one settles the question
    # without asking MongoDB (another replica can only have seen an older one).
    _recent: dict[str, datetime] = field(default_factory=dict)
    max_recent: int = 200_000
    purge_interval: float = 1.0
    _published: list[str] = field(default_factory=list)
    _next_purge: float = 0.0
    # Writes in flight at once: the store's latency, not its throughput, bounds one writer.
    max_writers: int = 3
    _writers: int = 0
    _publishing: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def record(self, share: dict[str, Any], visitor: str, at: datetime) -> None:
        """Return once the click is durable (its event staged with it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(share, visitor, at, done))
        if self._writers < self.max_writers:
            self._writers += 1
            self._spawn(self._write_loop())
        await done

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _write_loop(self) -> None:
        try:
            while self._queue:
                batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    with CLICK_WRITE_SECONDS.time():
                        written = await self._write(batch)
                    checkpoint("after-click-write")
                except Exception as exc:
                    log.warning("click batch not written", extra={"error": repr(exc)})
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                for item in batch:
                    if not item.done.done():
                        item.done.set_result(None)
                waiting = sum(len(b.events) for b in self._unpublished)
                if waiting < self.max_unpublished:
                    self._unpublished.append(written)
                if not self._publishing:
                    self._publishing = True
                    self._spawn(self._publish_loop())
        finally:
            self._writers -= 1

    async def _mark_unique(self, batch: Sequence[_Pending]) -> None:
        """Decide `unique` for each click, visitor by visitor, agreeing with other replicas."""
        undecided = []
        for item in batch:
            key = f"{item.share['_id']}:{item.visitor}"
            recent = self._recent.get(key)
            if recent is not None and not is_unique(recent, item.at):
                continue
            undecided.append((key, item))
        if not undecided:
            return
        found = self.repo.visits.find({"_id": {"$in": list({k for k, _ in undecided})}})
        last: dict[str, datetime] = {doc["_id"]: doc["at"] async for doc in found}
        claims: dict[str, tuple[_Pending, datetime | None]] = {}
        for key, item in undecided:
            seen = claims[key][0].at if key in claims else last.get(key)
            if is_unique(seen, item.at):
                claims[key] = (item, last.get(key))
                item.unique = True
        fresh = [(k, p) for k, (p, before) in claims.items() if before is None]
        if fresh:
            try:
                await self.repo.visits.insert_many(
                    [{"_id": k, "at": p.at} for k, p in fresh], ordered=False
                )
            except BulkWriteError as exc:
                # Another replica recorded the same visitor first: theirs is the unique one.
                for error in exc.details.get("writeErrors", []):
                    fresh[error["index"]][1].unique = False
        for key, (item, before) in claims.items():
            if before is not None:
                result = await self.repo.visits.update_one(
                    {"_id": key, "at": before}, {"$set": {"at": item.at}}
                )
                item.unique = result.modified_count == 1
        if len(self._recent) > self.max_recent:
            self._recent.clear()
        for key, (item, _) in claims.items():
            if item.unique:
                self._recent[key] = item.at

    async def _write(self, batch: Sequence[_Pending]) -> _Batch:
        CLICK_BATCH.observe(len(batch))
        await self._mark_unique(batch)
        events = []
        for item in batch:
            events.append(
                engagement_on_share(
                    item.share,
                    event_id=uuid.uuid4().hex,
                    engagement_id=f"click-{uuid.uuid4().hex}",
                    kind=EngagementKind.CLICK,
                    source=EngagementSource.REDIRECT,
                    observed_at=item.at,
                    visitor=item.visitor,
                    unique=item.unique,
                )
            )
        doc_id = uuid.uuid4().hex
        doc = outbox.new_document(
            {"_id": doc_id, "at": batch[0].at, "clicks": len(batch)}, events, self.lease_seconds
        )
        await self.repo.click_batches.insert_one(doc)
        return _Batch(
            doc_id,
            {e.id: (e.topic, e.partition_key(), e.to_json()) for e in events},
            time.monotonic() + self.lease_seconds / 2,
        )

    async def _publish_loop(self) -> None:
        try:
            while self._unpublished:
                now = time.monotonic()
                # Left too long (Kafka was away): the relay owns those events now.
                self._unpublished = [b for b in self._unpublished if b.give_up_at > now]
                batches = list(self._unpublished)
                pending = [(b, i) for b in batches for i in b.events]
                results = await asyncio.gather(
                    *(self.publisher.publish_raw(*b.events[i]) for b, i in pending),
                    return_exceptions=True,
                )
                errors = [r for r in results if r is not None]
                for (b, i), result in zip(pending, results, strict=True):
                    if result is None:
                        del b.events[i]
                CLICKS_PUBLISHED.inc(len(pending) - len(errors))
                self._published.extend(b.doc_id for b in batches if not b.events)
                self._unpublished = [b for b in self._unpublished if b.events]
                # Published batches are removed in bulk, now and then, while clicks keep
                # coming (every write slows the next batch down), and at once when all is
                # out: a published batch left behind would be published again by the relay.
                idle = not self._unpublished
                if self._published and (idle or time.monotonic() >= self._next_purge):
                    done, self._published = self._published, []
                    self._next_purge = time.monotonic() + self.purge_interval
                    await self.repo.click_batches.delete_many({"_id": {"$in": done}})
                if errors:
                    await self._clear_partly_published(batches, pending, results)
                    CLICK_PUBLISH_FAILURES.inc(len(errors))
                    log.warning(
                        "click events not published yet; retrying",
                        extra={"count": len(errors), "error": repr(errors[0])},
                    )
                    await asyncio.sleep(self.retry_pause)
        except Exception as exc:
            # The events stay staged in their documents; the worker's relay publishes them.
            log.warning("click publishing stopped", extra={"error": repr(exc)})
            self._unpublished.clear()
        finally:
            self._publishing = False

    async def _clear_partly_published(
        self,
        batches: list[_Batch],
        pending: list[tuple[_Batch, str]],
        results: list[BaseException | None],
    ) -> None:
        """Clear what went out, so a relay taking over later publishes only the rest."""
        for batch in batches:
            sent = [
                i for (b, i), r in zip(pending, results, strict=True) if b is batch and r is None
            ]
            if sent and batch.events:
                await self.repo.click_batches.update_one(
                    {"_id": batch.doc_id},
                    {
                        "$unset": {f"{outbox.PENDING}.{i}": "" for i in sent},
                        "$inc": {outbox.COUNT: -len(sent)},
                    },
                )


class LinkCache:
    """Short code -> share, kept briefly in memory so a click costs no lookup.

    A share's target never changes; what can change (the advocate opting out) is seen
    within `ttl` seconds.
    """

    def __init__(self, repo: ShareRepository, ttl: float = 30.0, max_size: int = 100_000):
        self._repo = repo
        self._ttl = ttl
        self._max_size = max_size
        self._entries: dict[str, tuple[float, dict[str, Any]]] = {}

    async def get(self, code: str) -> dict[str, Any] | None:
        now = time.monotonic()
        hit = self._entries.get(code)
        if hit is not None and hit[0] > now:
            return hit[1]
        doc = await self._repo.share_by_code(code)
        if doc is None or doc.get("status") != "shared":
            return None
        if len(self._entries) >= self._max_size:
            self._entries.clear()
        self._entries[code] = (now + self._ttl, doc)
        return doc
