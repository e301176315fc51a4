"""Recording clicks: Kafka first, MongoDB when Kafka is slow or away.

A redirect waits until its click is durable, and no longer. Normally that is Kafka's
acknowledgement: the click's LinkClicked goes out in a record batch with every other click
of that moment (`chassis.bulk`), and the store is not touched at all; share's worker then
decides whether it is unique and publishes its EngagementObserved (`share.adapters.visits`).
When the acknowledgement does not come within `ack_timeout`, the click is spooled instead: written
to MongoDB with its event staged in an outbox, many clicks to one document (group commit).
While Kafka stays away, clicks go straight to the spool; this process publishes spooled
events as soon as Kafka answers again, and should it die first, the worker's relay
publishes them once their lease has run out.

A send still in flight when its click was spooled is never repeated: the spool waits for
its outcome and publishes the event only if that send failed. A crash while Kafka is slow
can still publish an event twice, with the same id; consumers drop it by id.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, Protocol, TypeVar

from cachetools import LRUCache
from prometheus_client import Counter, Histogram

from chassis import ids, outbox
from chassis.bulk import Late, Sent
from chassis.faults import checkpoint
from contracts.topics import LINK_CLICKED
from share.adapters.mongo import ShareRepository
from share.domain.engagements import ClickEvents
from share.domain.shares import Share, ShareStatus

log = logging.getLogger(__name__)

CLICK_BATCH = Histogram(
    "chorus_share_click_batch_size",
    "Clicks written to the spool per MongoDB round trip",
    buckets=(1, 2, 5, 10, 25, 50, 100, 250, 500, 1000),
)
CLICK_WRITE_SECONDS = Histogram(
    "chorus_share_click_write_seconds",
    "Time to make one batch of spooled clicks durable",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)
CLICKS_PUBLISHED = Counter(
    "chorus_share_clicks_published_total", "Click events published by the api itself"
)
CLICKS_SPOOLED = Counter(
    "chorus_share_clicks_spooled_total",
    "Clicks written to MongoDB because Kafka did not acknowledge them in time",
)
CLICK_PUBLISH_FAILURES = Counter(
    "chorus_share_click_publish_failures_total",
    "Click events left staged for a later publish (Kafka slow or away)",
)


class RecordSink(Protocol):
    def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Late | None]:
        """Queue a record: None once Kafka has it, or a future of a late outcome."""

    def send_then(self, topic: str, key: bytes, value: bytes, then: Sent) -> None:
        """`send`, calling `then` with the outcome instead."""


T = TypeVar("T")

Then = Callable[[BaseException | None], None]
"""Told a click's outcome: None once it is durable, or the error."""


@dataclass
class GroupCommit(Generic[T]):
    """Items submitted while a round trip is in flight share the next one."""

    run: Callable[[list[T]], Awaitable[None]]
    # What a batch is, for the log when one fails.
    name: str
    max_batch: int = 500
    # Round trips in flight at once: the store's latency, not its throughput, bounds one.
    max_writers: int = 3
    _queue: list[tuple[T, asyncio.Future[None]]] = field(default_factory=list)
    _writers: int = 0

    async def submit(self, item: T) -> None:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append((item, done))
        if self._writers < self.max_writers:
            self._writers += 1
            _spawn(self._loop())
        await done

    async def _loop(self) -> None:
        try:
            while self._queue:
                taken, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                try:
                    await self.run([item for item, _ in taken])
                except Exception as exc:
                    log.warning("batch failed", extra={"batch": self.name, "error": repr(exc)})
                    _settle([done for _, done in taken], exc)
                else:
                    _settle([done for _, done in taken], None)
        finally:
            self._writers -= 1


@dataclass
class _Spooled:
    """A click's event, and the send that currently carries it (if any)."""

    event_id: str
    topic: str
    key: str
    value: bytes
    attempt: asyncio.Future[None] | None
    at: datetime


@dataclass
class _Batch:
    """A spool document and those of its events not yet known to be published."""

    doc_id: str
    events: list[_Spooled]
    # After this, the worker's relay may take the events over: publishing them here too
    # would publish them twice.
    give_up_at: float


@dataclass
class ClickRecorder:
    repo: ShareRepository
    sink: RecordSink
    lease_seconds: float
    # False: every click goes through the spool (store first, then Kafka).
    kafka_first: bool = True
    # Beyond this many spooled events waiting here, new ones are left to the relay.
    max_unpublished: int = 50_000
    retry_pause: float = 1.0
    purge_interval: float = 1.0
    # False once Kafka missed a deadline; new clicks then go straight to the spool until a
    # spooled event gets through.
    _kafka_up: bool = True
    _unpublished: list[_Batch] = field(default_factory=list)
    _published: list[str] = field(default_factory=list)
    _next_purge: float = 0.0
    _publishing: bool = False
    _spool: GroupCommit[_Spooled] = field(init=False)
    _events: ClickEvents = field(default_factory=ClickEvents)
    _ids: ids.Sequence = field(default_factory=ids.Sequence)
    _loop: asyncio.AbstractEventLoop | None = None

    def __post_init__(self) -> None:
        self._spool = GroupCommit(self._write_spool, name="click spool")

    def record_soon(self, share: Share, visitor: str, at: datetime, then: Then) -> None:
        """Record a click: `then` gets None once it is durable (acknowledged by Kafka, or
        spooled), or the error; never before this returns.

        Every click is answered from memory: while Kafka answers, it costs no task and no
        query, only a place in the next record batch, and `then` is called on its
        acknowledgement. Whether it is the visitor's first on the link within the hour is
        decided later by share's worker (`share.adapters.visits`), off the redirect's path.
        """
        self._send(self._event(share, visitor, at), then)

    def _event(self, share: Share, visitor: str, at: datetime) -> _Spooled:
        event_id = self._ids.next()
        key, value = self._events.encode(
            share,
            event_id=event_id,
            engagement_id=f"click-{event_id}",
            observed_at=at,
            visitor=visitor,
        )
        return _Spooled(event_id, LINK_CLICKED, key, value, None, at)

    def _send(self, event: _Spooled, then: Then) -> None:
        """Kafka first, while it answers in time; the spool otherwise."""
        if not (self.kafka_first and self._kafka_up):
            self._after(self._spool_click(event), then)
            return
        try:
            self.sink.send_then(
                event.topic,
                event.key.encode(),
                event.value,
                functools.partial(self._sent, event, then),
            )
        except Exception as exc:
            log.warning("click not sent to Kafka", extra={"error": repr(exc)})
            self._after(self._spool_click(event), then)

    def _sent(
        self, event: _Spooled, then: Then, late: Late | None, error: BaseException | None
    ) -> None:
        if error is None and late is None:
            CLICKS_PUBLISHED.inc()
            checkpoint("after-click-write")
            then(None)
            return
        if error is not None:
            log.warning("click not sent to Kafka", extra={"error": repr(error)})
        else:
            # Still in flight: the spool waits for its outcome before sending again.
            event.attempt = late
        if self._kafka_up:
            self._kafka_up = False
            log.warning("Kafka did not acknowledge a click in time; spooling clicks")
        self._after(self._spool_click(event), then)

    def _after(self, coro: Coroutine[Any, Any, None], then: Then) -> None:
        """Run `coro` as a task; `then` gets its outcome."""
        task = _spawn(coro, self._loop or self._bind_loop())
        task.add_done_callback(functools.partial(_outcome_to, then))

    async def _spool_click(self, event: _Spooled) -> None:
        await self._spool.submit(event)
        checkpoint("after-click-write")

    def _bind_loop(self) -> asyncio.AbstractEventLoop:
        # Kept: on Python 3.11 asyncio.get_running_loop() makes a system call (getpid).
        self._loop = asyncio.get_running_loop()
        return self._loop

    async def _write_spool(self, batch: Sequence[_Spooled]) -> None:
        CLICK_BATCH.observe(len(batch))
        doc_id = uuid.uuid4().hex
        doc = outbox.new_document_of_records(
            {"_id": doc_id, "at": batch[0].at, "clicks": len(batch)},
            [(e.event_id, e.topic, e.key, e.value) for e in batch],
            self.lease_seconds,
        )
        with CLICK_WRITE_SECONDS.time():
            await self.repo.click_batches.insert_one(doc)
        CLICKS_SPOOLED.inc(len(batch))
        if sum(len(b.events) for b in self._unpublished) < self.max_unpublished:
            self._unpublished.append(
                _Batch(
                    doc_id,
                    list(batch),
                    time.monotonic() + self.lease_seconds / 2,
                )
            )
        if not self._publishing:
            self._publishing = True
            _spawn(self._publish_loop())

    async def _publish_loop(self) -> None:
        try:
            while self._unpublished:
                now = time.monotonic()
                # Left too long (Kafka was away): the relay owns those events now.
                self._unpublished = [b for b in self._unpublished if b.give_up_at > now]
                for batch in self._unpublished:
                    for item in batch.events:
                        if item.attempt is None or _failed(item.attempt):
                            item.attempt = asyncio.ensure_future(self._deliver(item))
                attempts = [i.attempt for b in self._unpublished for i in b.events if i.attempt]
                await _within_all(attempts, self.retry_pause)
                cleared: list[tuple[_Batch, list[str]]] = []
                for batch in self._unpublished:
                    sent = [i for i in batch.events if i.attempt and _succeeded(i.attempt)]
                    if sent:
                        cleared.append((batch, [i.event_id for i in sent]))
                        batch.events = [i for i in batch.events if i not in sent]
                        CLICKS_PUBLISHED.inc(len(sent))
                if cleared:
                    self._kafka_up = True
                self._published.extend(b.doc_id for b, _ in cleared if not b.events)
                await self._clear_partly_published([(b, ids) for b, ids in cleared if b.events])
                # Re-read: batches spooled during the awaits above are in there too.
                self._unpublished = [b for b in self._unpublished if b.events]
                waiting = self._unpublished
                # Published documents are removed in bulk, now and then while clicks keep
                # being spooled, and at once when all is out: a published document left
                # behind would be published again by the relay.
                if self._published and (not waiting or time.monotonic() >= self._next_purge):
                    done, self._published = self._published, []
                    self._next_purge = time.monotonic() + self.purge_interval
                    await self.repo.click_batches.delete_many({"_id": {"$in": done}})
                failed = sum(
                    1 for b in waiting for i in b.events if i.attempt and _failed(i.attempt)
                )
                if failed:
                    CLICK_PUBLISH_FAILURES.inc(failed)
                    log.warning(
                        "spooled click events not published yet; retrying", extra={"count": failed}
                    )
                    await asyncio.sleep(self.retry_pause)
        except Exception as exc:
            # The events stay staged in their documents; the worker's relay publishes them.
            log.warning("click publishing stopped", extra={"error": repr(exc)})
            self._unpublished.clear()
        finally:
            self._publishing = False

    async def _deliver(self, item: _Spooled) -> None:
        late = await self.sink.send(item.topic, item.key.encode(), item.value)
        if late is not None:
            await late

    async def _clear_partly_published(self, cleared: list[tuple[_Batch, list[str]]]) -> None:
        """Clear what went out, so a relay taking over later publishes only the rest."""
        for batch, sent in cleared:
            await self.repo.click_batches.update_one(
                {"_id": batch.doc_id},
                {
                    "$unset": {f"{outbox.PENDING}.{i}": "" for i in sent},
                    "$inc": {outbox.COUNT: -len(sent)},
                },
            )


_TASKS: set[asyncio.Task[None]] = set()


def _spawn(coro: Any, loop: asyncio.AbstractEventLoop | None = None) -> asyncio.Task[None]:
    task = (loop or asyncio.get_running_loop()).create_task(coro)
    _TASKS.add(task)
    task.add_done_callback(_TASKS.discard)
    return task


def _outcome_to(then: Then, task: asyncio.Task[None]) -> None:
    then(asyncio.CancelledError() if task.cancelled() else task.exception())


def _settle_one(future: asyncio.Future[None], error: BaseException | None) -> None:
    _settle([future], error)


def _settle(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        if not future.done():
            if error is None:
                future.set_result(None)
            else:
                future.set_exception(error)


def _succeeded(future: asyncio.Future[None]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _failed(future: asyncio.Future[None]) -> bool:
    return future.done() and (future.cancelled() or future.exception() is not None)


async def _within_all(futures: Sequence[asyncio.Future[None]], limit: float) -> None:
    pending = [f for f in futures if not f.done()]
    if pending:
        await asyncio.wait(pending, timeout=limit)


class LinkCache:
    """Short code -> share, kept briefly in memory so a click costs no lookup.

    A share's target never changes; what can change (the advocate opting out) is seen
    within `ttl` seconds, plus one lookup. An expired entry keeps answering while one
    lookup refreshes it: a popular link costs one query per `ttl`, not one per request
    that arrives while the query runs. Unknown codes are not remembered.

    Links looked up while a lookup is in flight share the next query (`GroupCommit`):
    after a start, when every link is new to the process, a burst of clicks on many links
    costs a few queries, not one each (FerretDB reads the whole collection for each).
    """

    def __init__(self, repo: ShareRepository, ttl: float = 30.0, max_size: int = 100_000):
        self._repo = repo
        self._ttl = ttl
        # Expired entries stay until refreshed: the cache only drops the least recently used.
        self._entries: LRUCache[str, tuple[float, Share]] = LRUCache(maxsize=max_size)
        self._lookups: dict[str, asyncio.Future[Share | None]] = {}
        self._batches: GroupCommit[str] = GroupCommit(
            self._look_up_many, name="short link lookup", max_writers=2
        )
        # What the last queries found, until each code's one waiting lookup takes it.
        self._found: dict[str, Share] = {}

    async def get(self, code: str) -> Share | None:
        hit = self.cached(code)
        return hit if hit is not None else await self._lookup(code)

    def cached(self, code: str) -> Share | None:
        """The share if it is in memory (refreshed in the background once expired)."""
        hit: tuple[float, Share] | None = self._entries.get(code)
        if hit is None:
            return None
        if hit[0] <= time.monotonic() and code not in self._lookups:
            _spawn(self._refresh(code))
        return hit[1]

    async def _refresh(self, code: str) -> None:
        try:
            if await self._lookup(code) is None:
                self._entries.pop(code, None)
        except Exception as exc:
            # The entry stays; the next request after its expiry tries again.
            log.warning("short link not refreshed", extra={"code": code, "error": repr(exc)})

    async def _lookup(self, code: str) -> Share | None:
        running = self._lookups.get(code)
        if running is not None:
            return await asyncio.shield(running)
        future: asyncio.Future[Share | None] = asyncio.get_running_loop().create_future()
        self._lookups[code] = future
        try:
            await self._batches.submit(code)
            share = self._found.pop(code, None)
            if share is not None and share.status != ShareStatus.SHARED:
                share = None
            if share is not None:
                self._entries[code] = (time.monotonic() + self._ttl, share)
            future.set_result(share)
            return share
        except Exception as exc:
            future.set_exception(exc)
            # Retrieved here, so a lookup nobody else waited for does not log as unhandled.
            future.exception()
            raise
        except BaseException:
            future.cancel()
            raise
        finally:
            del self._lookups[code]
            self._found.pop(code, None)

    async def _look_up_many(self, codes: list[str]) -> None:
        self._found.update(await self._repo.shares_by_code(codes))
