"""Recording clicks: group commit to MongoDB, then publish in bulk.

A redirect waits only for its click to be durable, never for Kafka. Clicks arriving while
a write is in flight are written together by the next one, so one MongoDB round trip
serves many requests. Each click document carries its EngagementObserved in its outbox;
once the batch is durable this process publishes the events and clears them. While Kafka
is slow or away they simply stay staged: this process keeps trying, and should it die,
the worker's relay publishes them once their lease has run out.
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
from chassis.kafka import EventPublisher
from contracts import (
    EngagementKind,
    EngagementObserved,
    EngagementObservedData,
    EngagementSource,
)
from share.adapters.mongo import ShareRepository
from share.domain.clicks import is_unique

log = logging.getLogger(__name__)

CLICK_BATCH = Histogram(
    "chorus_share_click_batch_size",
    "Clicks written per MongoDB round trip",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
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
class _Staged:
    doc_id: str
    topic: str
    key: str
    value: bytes
    # After this, the worker's relay may take the event over: publishing it here too
    # would publish it twice.
    give_up_at: float


@dataclass
class ClickRecorder:
    repo: ShareRepository
    publisher: EventPublisher
    lease_seconds: float
    max_batch: int = 1000
    # Beyond this many events waiting to be published, new ones are left to the relay.
    max_unpublished: int = 50_000
    retry_pause: float = 1.0
    _queue: list[_Pending] = field(default_factory=list)
    _unpublished: list[_Staged] = field(default_factory=list)
    _writing: bool = False
    _publishing: bool = False
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    async def record(self, share: dict[str, Any], visitor: str, at: datetime) -> None:
        """Return once the click is durable (its event staged with it)."""
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(_Pending(share, visitor, at, done))
        if not self._writing:
            self._writing = True
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
                    staged = await self._write(batch)
                except Exception as exc:
                    log.warning("click batch not written", extra={"error": repr(exc)})
                    for item in batch:
                        if not item.done.done():
                            item.done.set_exception(exc)
                    continue
                for item in batch:
                    if not item.done.done():
                        item.done.set_result(None)
                room = self.max_unpublished - len(self._unpublished)
                self._unpublished.extend(staged[: max(room, 0)])
                if not self._publishing:
                    self._publishing = True
                    self._spawn(self._publish_loop())
        finally:
            self._writing = False

    async def _mark_unique(self, batch: Sequence[_Pending]) -> None:
        """Decide `unique` for each click, visitor by visitor, agreeing with other replicas."""
        keys = {f"{p.share['_id']}:{p.visitor}" for p in batch}
        found = self.repo.visits.find({"_id": {"$in": list(keys)}})
        last: dict[str, datetime] = {doc["_id"]: doc["at"] async for doc in found}
        claims: dict[str, tuple[_Pending, datetime | None]] = {}
        for item in batch:
            key = f"{item.share['_id']}:{item.visitor}"
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

    async def _write(self, batch: Sequence[_Pending]) -> list[_Staged]:
        CLICK_BATCH.observe(len(batch))
        await self._mark_unique(batch)
        docs: list[dict[str, Any]] = []
        staged: list[_Staged] = []
        for item in batch:
            share = item.share
            event = EngagementObserved.create(
                tenant_id=share["tenant"],
                subject=share["_id"],
                event_id=uuid.uuid4().hex,
                time=item.at,
                data=EngagementObservedData(
                    engagement_id=f"click-{uuid.uuid4().hex}",
                    share_id=share["_id"],
                    content_id=share.get("content_id"),
                    employee_id=share["employee_id"],
                    network=share["network"],
                    kind=EngagementKind.CLICK,
                    observed_at=item.at,
                    source=EngagementSource.REDIRECT,
                    visitor=item.visitor,
                    unique=item.unique,
                    campaign_id=share.get("campaign_id"),
                    content_kind=share.get("content_kind"),
                ),
            )
            doc = {
                "_id": event.id,
                "tenant": share["tenant"],
                "share_id": share["_id"],
                "visitor": item.visitor,
                "unique": item.unique,
                "at": item.at,
            }
            docs.append(outbox.new_document(doc, [event], self.lease_seconds))
            staged.append(
                _Staged(
                    event.id,
                    event.topic,
                    event.partition_key(),
                    event.to_json(),
                    time.monotonic() + self.lease_seconds / 2,
                )
            )
        await self.repo.clicks.insert_many(docs, ordered=False)
        return staged

    async def _publish_loop(self) -> None:
        try:
            while self._unpublished:
                now = time.monotonic()
                # Left too long (Kafka was away): the relay owns those now.
                self._unpublished = [s for s in self._unpublished if s.give_up_at > now]
                batch = self._unpublished[: self.max_batch]
                results = await asyncio.gather(
                    *(self.publisher.publish_raw(s.topic, s.key, s.value) for s in batch),
                    return_exceptions=True,
                )
                sent = [s.doc_id for s, r in zip(batch, results, strict=True) if r is None]
                if sent:
                    await self.repo.clicks.update_many(
                        {"_id": {"$in": sent}}, {"$set": {outbox.PENDING: {}, outbox.COUNT: 0}}
                    )
                    CLICKS_PUBLISHED.inc(len(sent))
                errors = [r for r in results if r is not None]
                del self._unpublished[: len(batch)]
                if errors:
                    now = time.monotonic()
                    failed = [
                        s
                        for s, r in zip(batch, results, strict=True)
                        if r is not None and s.give_up_at > now
                    ]
                    CLICK_PUBLISH_FAILURES.inc(len(errors))
                    log.warning(
                        "click events not published yet; retrying",
                        extra={"count": len(errors), "error": repr(errors[0])},
                    )
                    self._unpublished[:0] = failed
                    await asyncio.sleep(self.retry_pause)
        except Exception as exc:
            # The events stay staged in their documents; the worker's relay publishes them.
            log.warning("click publishing stopped", extra={"error": repr(exc)})
            self._unpublished.clear()
        finally:
            self._publishing = False

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


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
