"""Transactional outbox without transactions: the events ride in the document they describe.

A state change and its events are one single-document write: the document carries its
pending events under `_outbox.<event id>` and their count in `_outbox_n`. After the write
the api publishes them itself (the fast path) and removes them one by one. If the process
dies first, or Kafka is away, the worker's relay finds the document once its lease
`_outbox_lease` has run out and publishes what is still pending. An event is never
published for a write that failed, because it only exists inside that write.

A crash after a publish and before its removal publishes the event again with the same
id; consumers are idempotent by event id, so the effect is still exactly once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import stamina
from prometheus_client import Counter, Gauge
from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

from chassis.domain_errors import Conflict
from chassis.faults import checkpoint
from chassis.kafka import EventPublisher
from contracts import AnyEvent

log = logging.getLogger(__name__)

OUTBOX_PUBLISHED = Counter(
    "chorus_outbox_published_total", "Outbox events published", ["collection", "path"]
)
OUTBOX_PENDING = Gauge(
    "chorus_outbox_pending_documents", "Documents with events still to publish", ["collection"]
)

PENDING = "_outbox"
COUNT = "_outbox_n"
LEASE = "_outbox_lease"


def staged(
    events: Sequence[AnyEvent], lease_seconds: float, now: datetime | None = None
) -> dict[str, Any]:
    """Fields for `$set` that stage `events` in the written document; pair with `increment`."""
    lease = (now or datetime.now(UTC)) + timedelta(seconds=lease_seconds)
    fields: dict[str, Any] = {LEASE: lease}
    for seq, event in enumerate(events):
        fields[f"{PENDING}.{event.id}"] = {
            "seq": seq,
            "topic": event.topic,
            "key": event.partition_key(),
            "value": event.to_json().decode(),
        }
    return fields


def increment(events: Sequence[AnyEvent]) -> dict[str, int]:
    """The `$inc` that counts the staged events."""
    return {COUNT: len(events)}


def new_document(
    doc: dict[str, Any], events: Sequence[AnyEvent], lease_seconds: float
) -> dict[str, Any]:
    """`doc` ready for `insert_one`, with `events` staged in it."""
    records = [(e.id, e.topic, e.partition_key(), e.to_json()) for e in events]
    return new_document_of_records(doc, records, lease_seconds)


def new_document_of_records(
    doc: dict[str, Any], records: Sequence[tuple[str, str, str, bytes]], lease_seconds: float
) -> dict[str, Any]:
    """`new_document` for events already encoded: (event id, topic, key, JSON) each."""
    out = dict(doc)
    out[PENDING] = {
        event_id: {"seq": seq, "topic": topic, "key": key, "value": value.decode()}
        for seq, (event_id, topic, key, value) in enumerate(records)
    }
    out[COUNT] = len(records)
    out[LEASE] = datetime.now(UTC) + timedelta(seconds=lease_seconds)
    return out


async def ensure_index(collection: AsyncCollection[dict[str, Any]]) -> None:
    await collection.create_index([(COUNT, ASCENDING), (LEASE, ASCENDING)])


class Outbox:
    """Publishes and clears the events staged in documents of one collection."""

    def __init__(
        self,
        collection: AsyncCollection[dict[str, Any]],
        publisher: EventPublisher,
        lease_seconds: float,
    ) -> None:
        self.collection = collection
        self._publisher = publisher
        self.lease_seconds = lease_seconds

    async def flush(self, doc_id: Any, event_ids: Iterable[str] | None = None) -> int:
        """Publish the pending events of one document in order and clear them.

        Called by the api right after its write (the fast path) and by the relay.
        """
        doc = await self.collection.find_one({"_id": doc_id}, {PENDING: 1})
        pending: dict[str, dict[str, Any]] = (doc or {}).get(PENDING) or {}
        wanted = set(event_ids) if event_ids is not None else None
        published = 0
        for event_id, entry in sorted(pending.items(), key=lambda item: item[1]["seq"]):
            if wanted is not None and event_id not in wanted:
                continue
            await self._publisher.publish_raw(entry["topic"], entry["key"], entry["value"].encode())
            checkpoint("after-outbox-publish")
            # Guarded by existence, so a relay and the api clearing the same entry count once.
            await self.collection.update_one(
                {"_id": doc_id, f"{PENDING}.{event_id}": {"$exists": True}},
                {"$unset": {f"{PENDING}.{event_id}": ""}, "$inc": {COUNT: -1}},
            )
            published += 1
        return published

    async def publish_now(self, doc_id: Any, events: Sequence[AnyEvent]) -> None:
        """The api's fast path: publish right after the write. Failure is not an error:
        the events stay staged and the relay publishes them when their lease runs out."""
        checkpoint("after-outbox-write")
        try:
            await self.flush(doc_id, [e.id for e in events])
            OUTBOX_PUBLISHED.labels(self.collection.name, "direct").inc(len(events))
        except Exception as exc:
            log.warning(
                "publish after write failed; the relay will publish",
                extra={"collection": self.collection.name, "error": repr(exc)},
            )

    async def relay_once(self, limit: int = 100) -> int:
        """Claim documents whose lease has run out and publish their pending events."""
        published = 0
        for _ in range(limit):
            now = datetime.now(UTC)
            doc = await self.collection.find_one_and_update(
                {COUNT: {"$gt": 0}, LEASE: {"$lte": now}},
                {"$set": {LEASE: now + timedelta(seconds=self.lease_seconds)}},
                # No projection: FerretDB 1.x does not implement one on findAndModify.
                return_document=ReturnDocument.AFTER,
            )
            if doc is None:
                break
            count = await self.flush(doc["_id"])
            OUTBOX_PUBLISHED.labels(self.collection.name, "relay").inc(count)
            published += count
        return published

    async def pending_documents(self) -> int:
        return await self.collection.count_documents({COUNT: {"$gt": 0}})


class RelayFailed(Exception):
    """A relay round in which at least one outbox failed (Kafka or MongoDB away)."""


async def run_relay(
    outboxes: Sequence[Outbox],
    interval: float = 0.5,
    failure_wait_initial: float = 0.5,
    failure_wait_max: float = 10.0,
) -> None:
    """The worker's relay loop: publish what the api could not, forever.

    A round in which an outbox fails is tried again after a wait that grows exponentially
    from `failure_wait_initial`, with jitter, up to `failure_wait_max`; the first round
    that succeeds ends the outage, and the next one starts from the shortest wait again.
    """
    while True:
        busy = False
        async for attempt in stamina.retry_context(
            on=RelayFailed,
            attempts=None,
            timeout=None,
            wait_initial=failure_wait_initial,
            wait_max=failure_wait_max,
        ):
            with attempt:
                busy = await _relay_round(outboxes)
        if not busy:
            await asyncio.sleep(interval)


async def _relay_round(outboxes: Sequence[Outbox]) -> bool:
    """Relay every outbox once; whether any published; `RelayFailed` if one failed."""
    busy = failed = False
    for outbox in outboxes:
        try:
            busy |= await outbox.relay_once() > 0
            OUTBOX_PENDING.labels(outbox.collection.name).set(await outbox.pending_documents())
        except Exception as exc:  # Kafka or Mongo away: the others go on, then a pause
            failed = True
            log.warning(
                "outbox relay failed; retrying",
                extra={"collection": outbox.collection.name, "error": repr(exc)},
            )
    if failed:
        raise RelayFailed("an outbox relay failed")
    return busy


class DocumentWrite:
    """A unit of work's write to one document of an outbox's collection, its events
    staged in the same single-document write (`chassis.uow.Write`).

    Either `new` (a document to insert) or `where` and `update` (an update of the one
    document matching `where`, inserted if `upsert`). `must_land` says what a write that
    did not land means: True raises `Conflict(conflict)` (someone changed the document
    meanwhile, or its key is taken); False means it was a repeat, and is not published.
    """

    def __init__(
        self,
        box: Outbox,
        doc_id: Any,
        *,
        new: dict[str, Any] | None = None,
        where: dict[str, Any] | None = None,
        update: dict[str, Any] | None = None,
        upsert: bool = False,
        must_land: bool = True,
        conflict: str = "it changed meanwhile; read it again and retry",
    ) -> None:
        if (new is None) == (update is None):
            raise ValueError("a write inserts `new` or applies `update`, not both")
        self.box = box
        self.doc_id = doc_id
        self.new = new
        self.where = where if where is not None else {"_id": doc_id}
        self.update = update
        self.upsert = upsert
        self.must_land = must_land
        self.conflict = conflict

    async def apply(self, events: Sequence[AnyEvent]) -> bool:
        try:
            if self.new is not None:
                await self.box.collection.insert_one(
                    new_document(self.new, events, self.box.lease_seconds)
                )
                landed = True
            else:
                assert self.update is not None
                result = await self.box.collection.update_one(
                    self.where, self._staged_update(events), upsert=self.upsert
                )
                landed = result.matched_count > 0 or result.upserted_id is not None
        except DuplicateKeyError:
            landed = False
        if not landed and self.must_land:
            raise Conflict(self.conflict, title="Changed meanwhile")
        return landed

    def _staged_update(self, events: Sequence[AnyEvent]) -> dict[str, Any]:
        assert self.update is not None
        if not events:
            return self.update
        update = {op: dict(fields) for op, fields in self.update.items()}
        update.setdefault("$set", {}).update(staged(events, self.box.lease_seconds))
        counted = update.setdefault("$inc", {})
        counted[COUNT] = counted.get(COUNT, 0) + len(events)
        return update

    async def publish(self, events: Sequence[AnyEvent]) -> None:
        await self.box.publish_now(self.doc_id, events)
