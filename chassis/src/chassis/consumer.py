"""Batch consumption of contract events with dead letters and commit-after-effect.

FastStream has no Kafka dead-letter support; this is ours, written once:
- a record that does not parse as its topic's event goes to `<topic>.dlq` with the reason
  in headers, and the rest of the batch goes on;
- the handler gets the valid events of a batch and must make their effect durable and
  idempotent by event id; only then are the offsets committed;
- if the handler fails because the database or Kafka is away (`is_transient`), the batch
  is tried again with exponential backoff, jitter and a cap, for as long as the outage
  lasts: such a failure never dead-letters anything. After `outage_timeout` the consumer
  seeks back and the batch is delivered again (a handler must not hold the poll loop past
  Kafka's `max.poll.interval.ms`, or the consumer is put out of its group);
- if the handler fails otherwise, the batch is tried `attempts` times; then it is split
  in halves, left before right, until the events that fail on their own are found. Each
  of those is tried `attempts` times too, then goes to `<topic>.dlq` with the error in
  headers; every other event is handled, and the offsets are committed. One event that
  always fails does not hold up its partition;
- if a Kafka producer of the process can never send again (`is_fatal`: the broker fenced
  it, or its sequence numbers no longer match the broker's), nothing is dead-lettered: the
  batch is not committed, and the process stops, as for SIGTERM, to start again with new
  producers (its orchestrator restarts it) and take the batch again;
- a batch under way is finished and committed before its partitions go to another
  consumer of the group (a rebalance, as when a replica joins or leaves during a rolling
  update) and before the process stops, so the new owner does not handle it again and
  republish what it derived (see `_BatchUnderWay`);
- a batch delivered again after a crash leaves out the records the group's progress
  marks say were handled, when the service keeps marks (`chassis.progress`). Such a
  consumer also starts slowly: a process hands its handler at most `FIRST_RECORDS`
  records at once at first, and twice as many after each part handled, up to the whole
  batch. A process that crashes again and again (out of memory, say) still moves on,
  and redoes at most the part it had under way;
- an event whose id this process handled on that topic lately (a producer sent it twice:
  it redid work a crash cut short) is left out, as is a second copy within one batch
  (`RecentEvents`). CloudEvents lets a consumer take events of one source and id as
  duplicates, and every handler is idempotent by event id already: leaving them out only
  spares the work, which on FerretDB is costly (each insert refused as a duplicate is
  made alone, in a transaction of its own).

Events are handed to the handler in delivery order, also when a batch is split; an event
whose effect was partly made before a failure is handled again, which idempotency makes
harmless. A dead-lettered record can be sent twice if the batch is delivered again before
its offsets are committed.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Generic, ParamSpec, TypeVar

import stamina
from aiokafka import ConsumerRebalanceListener, ConsumerRecord
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaError,
    KafkaTimeoutError,
    OutOfOrderSequenceNumber,
    ProducerFenced,
)
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from faststream.message import StreamMessage
from prometheus_client import Counter
from pydantic import ValidationError
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import ConnectionFailure

from chassis.kafka import EventPublisher
from chassis.progress import COLLECTION as PROGRESS
from chassis.progress import Progress
from chassis.projection import WatermarkConflict
from contracts import EVENTS_BY_TOPIC, AnyEvent, dlq_topic
from contracts.topics import (
    DLQ_CONSUMER_HEADER,
    DLQ_ERROR_HEADER,
    DLQ_ERROR_TYPE_HEADER,
    DLQ_SOURCE_HEADER,
)

log = logging.getLogger(__name__)
E = TypeVar("E", bound=AnyEvent)
P = ParamSpec("P")
R = TypeVar("R")

DEAD_LETTERS = Counter(
    "chorus_dead_letters_total", "Records sent to a dead-letter topic", ["topic", "consumer"]
)
BATCH_FAILURES = Counter(
    "chorus_consumer_batch_failures_total",
    "Handler calls of a whole batch that failed; the batch is tried again, split or redelivered",
    ["consumer"],
)
EVENTS_CONSUMED = Counter(
    "chorus_events_consumed_total", "Events whose effect is durable", ["topic", "consumer"]
)
RECORDS_LEFT_OUT = Counter(
    "chorus_consumer_records_left_out_total",
    "Records delivered again (after a crash) and left out: the group's progress marks say"
    " they were handled already",
    ["consumer"],
)
DUPLICATES_LEFT_OUT = Counter(
    "chorus_consumer_duplicates_left_out_total",
    "Events left out because this process handled an event of the same id on that topic"
    " lately: a producer sent it twice",
    ["consumer"],
)
# Events remembered per consumer group: rewards' batches take up to 10,000 events, and a
# producer that redoes a batch sends its copies after the originals, one batch later.
RECENT_EVENTS_KEPT = 50_000
# What a consumer that keeps progress marks hands its handler at once when it starts.
FIRST_RECORDS = 500


@dataclass(frozen=True)
class Consumed(Generic[E]):
    """A parsed event and where it came from; the position orders effects exactly once."""

    event: E
    topic: str
    partition: int
    offset: int


BatchHandler = Callable[[list[Consumed[Any]]], Awaitable[None]]


class PoisonRecord(ValueError):
    """A record that can never be processed, whatever the retry."""


# The database or Kafka is unreachable or slow to answer, or another writer raced us (a
# rebalance): the same batch succeeds later, so it is retried and never dead-lettered.
# pymongo's ConnectionFailure covers AutoReconnect, NetworkTimeout and
# ServerSelectionTimeoutError; OSError covers ConnectionError.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    ConnectionFailure,
    KafkaConnectionError,
    KafkaTimeoutError,
    OSError,
    TimeoutError,
    WatermarkConflict,
)


def _chain(error: BaseException, *, context: bool = False) -> Iterator[BaseException]:
    """`error`, then what it was raised from (and, with `context`, what it was raised while
    handling), each once."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (current.__context__ if context else None)


def is_transient(error: BaseException) -> bool:
    """Whether `error` (or what it was raised from) says infrastructure is away for now."""
    for current in _chain(error):
        if isinstance(current, BaseExceptionGroup):
            return all(is_transient(e) for e in current.exceptions)
        if isinstance(current, TRANSIENT_ERRORS):
            return True
        # aiokafka marks the errors that a later request may not hit (no leader yet, ...).
        if isinstance(current, KafkaError) and current.retriable:
            return True
    return False


# A producer that met one of these never sends again (aiokafka stops its sender): only a
# new producer, in a new process, can.
FATAL_ERRORS: tuple[type[BaseException], ...] = (OutOfOrderSequenceNumber, ProducerFenced)


def is_fatal(error: BaseException) -> bool:
    """Whether `error` (or what it was raised from) says a producer of this process is
    broken for good."""
    for current in _chain(error, context=True):
        if isinstance(current, BaseExceptionGroup):
            return any(is_fatal(e) for e in current.exceptions)
        if isinstance(current, FATAL_ERRORS):
            return True
    return False


def stop_process(error: BaseException) -> None:
    """Stop this process as SIGTERM does (it drains, then exits), once."""
    global _STOPPING
    if _STOPPING:
        return
    _STOPPING = True
    log.error(
        "a Kafka producer can no longer send; the process stops to start again",
        extra={"error": repr(error)},
    )
    os.kill(os.getpid(), signal.SIGTERM)


_STOPPING = False


def parse_record(record: ConsumerRecord[Any, Any]) -> AnyEvent:
    event_class = EVENTS_BY_TOPIC.get(record.topic)
    if event_class is None:
        raise PoisonRecord(f"no event contract for topic {record.topic}")
    if record.value is None:
        raise PoisonRecord("empty record value")
    try:
        return event_class.from_json(record.value)
    except ValidationError as exc:
        reasons = "; ".join(
            f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}"
            for e in exc.errors()[:10]
        )
        raise PoisonRecord(f"invalid {event_class.event_type()}: {reasons}") from exc


class DeadLetters:
    def __init__(self, publisher: EventPublisher, consumer: str) -> None:
        self._publisher = publisher
        self._consumer = consumer

    async def send(self, record: ConsumerRecord[Any, Any], error: Exception) -> None:
        headers = {
            k: v.decode(errors="replace") for k, v in (record.headers or ()) if k is not None
        }
        headers.update(
            {
                DLQ_ERROR_HEADER: (str(error) or repr(error))[:4000],
                DLQ_ERROR_TYPE_HEADER: type(error).__name__,
                DLQ_SOURCE_HEADER: f"{record.topic}/{record.partition}/{record.offset}",
                DLQ_CONSUMER_HEADER: self._consumer,
            }
        )
        key = record.key.decode(errors="replace") if isinstance(record.key, bytes) else ""
        await self._publisher.publish_raw(
            dlq_topic(record.topic), key, record.value or b"", headers=headers
        )
        DEAD_LETTERS.labels(record.topic, self._consumer).inc()
        log.warning(
            "record dead-lettered",
            extra={"topic": record.topic, "offset": record.offset, "error": str(error)[:500]},
        )


class RecentEvents:
    """The (topic, event id) of the events handled lately, the oldest forgotten first."""

    def __init__(self, size: int = RECENT_EVENTS_KEPT) -> None:
        self._size = size
        self._keys: dict[tuple[str, str], None] = {}

    def __contains__(self, key: tuple[str, str]) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, keys: Iterator[tuple[str, str]]) -> None:
        for key in keys:
            self._keys.pop(key, None)
            self._keys[key] = None
        for _ in range(len(self._keys) - self._size):
            del self._keys[next(iter(self._keys))]


class _Redeliver(Exception):
    """The batch could not be handled within its delivery; seek back and take it again."""


class BatchConsumer:
    """What one consumer does with a delivered batch (see the module docstring)."""

    def __init__(
        self,
        handler: BatchHandler,
        dead_letters: DeadLetters,
        consumer: str,
        *,
        attempts: int = 3,
        wait_initial: float = 0.5,
        wait_max: float = 30.0,
        outage_timeout: float = 120.0,
        on_fatal: Callable[[BaseException], None] = stop_process,
        progress: Progress | None = None,
    ) -> None:
        if attempts < 1:
            raise ValueError("attempts must be at least 1")
        self._handler = handler
        self._dead_letters = dead_letters
        self._consumer = consumer
        self.attempts = attempts
        self.wait_initial = wait_initial
        self.wait_max = wait_max
        self.outage_timeout = outage_timeout
        self._on_fatal = on_fatal
        self._progress = progress
        self._recent = RecentEvents()
        self._allowance = FIRST_RECORDS

    async def consume(self, records: Sequence[ConsumerRecord[Any, Any]]) -> list[Consumed[Any]]:
        """Handle `records`; returns the events whose effect is now durable, so that their
        offsets can be committed. Raises when the batch must be delivered again.

        With `progress`, records its marks say were handled are left out, and the batch is
        handled in parts, each marked once handled (`chassis.progress`): at most
        `FIRST_RECORDS` at first, twice as many after each part."""
        # One delivery's budget for outages, however many parts: the poll loop must be back
        # within Kafka's max.poll.interval.ms.
        deadline = asyncio.get_running_loop().time() + self.outage_timeout
        progress = self._progress
        if progress is None:
            return await self._consume(records, deadline)
        handled: list[Consumed[Any]] = []
        start = 0
        while start < len(records):
            part = records[start : start + self._allowance]
            start += len(part)
            handled += await self._consume_marked(progress, part, deadline)
            self._allowance = min(2 * self._allowance, 1 << 20)
        return handled

    async def _consume_marked(
        self, progress: Progress, records: Sequence[ConsumerRecord[Any, Any]], deadline: float
    ) -> list[Consumed[Any]]:
        await progress.read(records)
        fresh = [record for record in records if not progress.is_handled(record)]
        if len(fresh) < len(records):
            RECORDS_LEFT_OUT.labels(self._consumer).inc(len(records) - len(fresh))
            log.info(
                "records handled before left out",
                extra={"group": self._consumer, "records": len(records) - len(fresh)},
            )
        handled = await self._consume(fresh, deadline) if fresh else []
        await progress.mark(records)
        return handled

    async def _consume(
        self, records: Sequence[ConsumerRecord[Any, Any]], deadline: float
    ) -> list[Consumed[Any]]:
        valid: list[Consumed[Any]] = []
        by_position: dict[tuple[str, int, int], ConsumerRecord[Any, Any]] = {}
        keys: set[tuple[str, str]] = set()
        copies = 0
        for record in records:
            try:
                event = parse_record(record)
            except PoisonRecord as error:
                await self._until_reachable(deadline, self._dead_letters.send, record, error)
                continue
            key = (record.topic, str(event.id))
            if key in keys or key in self._recent:
                copies += 1
                continue
            keys.add(key)
            valid.append(Consumed(event, record.topic, record.partition, record.offset))
            by_position[(record.topic, record.partition, record.offset)] = record
        if copies:
            DUPLICATES_LEFT_OUT.labels(self._consumer).inc(copies)
            log.info(
                "events handled before left out",
                extra={"group": self._consumer, "events": copies},
            )
        if not valid:
            return []
        try:
            await self._with_attempts(deadline, valid)
            handled = valid
        except _Redeliver:
            raise
        except Exception as error:
            log.warning(
                "batch keeps failing; looking for the events that fail",
                extra={"group": self._consumer, "events": len(valid), "error": repr(error)},
            )
            handled = await self._isolate(deadline, valid, error, by_position)
        self._recent.add((item.topic, str(item.event.id)) for item in handled)
        return handled

    async def _isolate(
        self,
        deadline: float,
        items: list[Consumed[Any]],
        error: Exception,
        records: dict[tuple[str, int, int], ConsumerRecord[Any, Any]],
    ) -> list[Consumed[Any]]:
        """`items` failed together with `error`: dead-letter those that fail on their own
        and handle the others, in order; returns those handled."""
        if len(items) == 1:
            item = items[0]
            record = records[(item.topic, item.partition, item.offset)]
            await self._until_reachable(deadline, self._dead_letters.send, record, error)
            return []
        handled: list[Consumed[Any]] = []
        middle = len(items) // 2
        for part in (items[:middle], items[middle:]):
            try:
                if len(part) == 1:
                    await self._with_attempts(deadline, part, whole_batch=False)
                else:
                    await self._until_reachable(deadline, self._call, part, False)
            except _Redeliver:
                raise
            except Exception as part_error:
                handled += await self._isolate(deadline, part, part_error, records)
            else:
                handled += part
        return handled

    async def _with_attempts(
        self, deadline: float, items: list[Consumed[Any]], whole_batch: bool = True
    ) -> None:
        """The handler on `items`, tried `attempts` times on failures other than outages."""
        async for attempt in stamina.retry_context(
            on=lambda error: not is_transient(error) and not isinstance(error, _Redeliver),
            attempts=self.attempts,
            timeout=None,
            wait_initial=self.wait_initial,
            wait_max=self.wait_max,
        ):
            with attempt:
                await self._until_reachable(deadline, self._call, items, whole_batch)

    async def _until_reachable(
        self,
        deadline: float,
        step: Callable[P, Awaitable[R]],
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> R:
        """`step`, tried again while infrastructure is away, until the delivery's deadline."""
        remaining = deadline - asyncio.get_running_loop().time()
        try:
            async for attempt in stamina.retry_context(
                on=is_transient,
                attempts=None,
                timeout=max(remaining, 0.001),
                wait_initial=self.wait_initial,
                wait_max=self.wait_max,
            ):
                with attempt:
                    return await step(*args, **kwargs)
        except Exception as error:
            if is_transient(error):
                raise _Redeliver(f"still failing after {self.outage_timeout:g} s") from error
            if is_fatal(error):
                # Every later send fails the same way: nothing is dead-lettered for it.
                self._on_fatal(error)
                raise _Redeliver("a producer of this process is broken") from error
            raise
        raise AssertionError("unreachable")

    async def _call(self, items: list[Consumed[Any]], whole_batch: bool) -> None:
        try:
            await self._handler(items)
        except Exception as error:
            # Only whole batches count: the calls that look for a failing event are expected
            # to fail.
            if whole_batch:
                BATCH_FAILURES.labels(self._consumer).inc()
            log.warning(
                "batch handler failed",
                extra={"group": self._consumer, "events": len(items), "error": repr(error)},
            )
            raise


async def _raw_body(message: StreamMessage[Any]) -> Any:
    # Parsing is ours (with dead letters), not FastStream's content-type based decoding.
    return message.body


# Kafka puts a consumer out of its group when it has not polled for this long (aiokafka's
# default `max_poll_interval_ms`); a delivery must be given back well before.
_MAX_POLL_INTERVAL = 300.0

# How long the group waits for its members to rejoin in a rebalance (aiokafka's default
# is the session timeout, 10 s), and how long a member waits within it for its batch under
# way before it lets its partitions go. A batch takes about a second; one held up by an
# outage is let go, and delivered again to the partitions' new owner, as before.
REBALANCE_TIMEOUT_SECONDS = 30.0
BATCH_WAIT_ON_REVOKE_SECONDS = 20.0
# How often a member tells the group coordinator it is alive, and learns that a rebalance
# began (aiokafka's default: 3 s). A process's subscribers are members of one group that
# join one after the other, each starting a rebalance the others learn of at their next
# heartbeat: content's worker, with four, took 10.2 s to be ready at 3 s and 3.6 s at
# 500 ms, on an idle machine (docs/architecture.md, "Joining a group").
HEARTBEAT_INTERVAL_MS = 500


class _BatchUnderWay(ConsumerRebalanceListener):  # type: ignore[misc]
    """Keeps partitions with this consumer until the batch it is handling is committed.

    Kafka takes partitions away in a rebalance whatever the consumer is doing. Without
    this, a batch whose effects were made (events published) but whose offsets were not yet
    committed is delivered again to the new owner, which makes the same effects again:
    harmless for state (idempotent by event id), but derived events land on their topic a
    second time. aiokafka awaits `on_partitions_revoked` before the consumer rejoins, and
    the member may still commit meanwhile."""

    def __init__(
        self, group_id: str, wait_seconds: float, progress: Progress | None = None
    ) -> None:
        self._group_id = group_id
        self._wait_seconds = wait_seconds
        self._progress = progress
        self._idle = asyncio.Event()
        self._idle.set()
        # From the revocation until the next assignment, a batch handed over (fetched
        # before, and delivered since) is not handled: its partitions may be another's.
        self.revoked = False

    def begin(self) -> None:
        self._idle.clear()

    def end(self) -> None:
        self._idle.set()

    async def on_partitions_revoked(self, revoked: Any) -> None:
        began = time.monotonic()
        if not self._idle.is_set():
            try:
                await asyncio.wait_for(self._idle.wait(), self._wait_seconds)
            except TimeoutError:
                log.warning(
                    "partitions revoked while a batch is still under way; it will be "
                    "delivered again to their new owner",
                    extra={"group": self._group_id, "partitions": len(revoked)},
                )
        self.revoked = True
        log.info(
            "partitions revoked",
            extra={
                "group": self._group_id,
                "partitions": len(revoked),
                "waited_seconds": round(time.monotonic() - began, 3),
            },
        )

    async def on_partitions_assigned(self, assigned: Any) -> None:
        self.revoked = False
        if self._progress is not None:
            # Another consumer of the group may have had them meanwhile.
            self._progress.forget()


def subscribe_batch(
    broker: KafkaBroker,
    *,
    topics: Sequence[str],
    group_id: str,
    handler: BatchHandler,
    publisher: EventPublisher,
    max_records: int = 500,
    attempts: int = 3,
    retry_wait_initial: float = 0.5,
    retry_wait_max: float = 30.0,
    outage_timeout: float = 120.0,
    batch_timeout_ms: int = 100,
    fetch_max_wait_ms: int = 500,
    progress: AsyncDatabase[dict[str, Any]] | None = None,
) -> None:
    """Consume `topics` in batches as consumer group `group_id`.

    A handler failure other than an outage is tried `attempts` times (a batch, and then
    each event that fails on its own) before the failing events are dead-lettered. Waits
    between tries grow exponentially from `retry_wait_initial`, with up to a second of
    jitter, and are capped at `retry_wait_max`. An outage is retried for
    `outage_timeout` seconds within one delivery, then the batch is delivered again, for
    as long as the outage lasts.

    `batch_timeout_ms` bounds how long a poll waits for records; FastStream also sleeps
    that long after an empty poll, so a record arriving then waits up to twice as long.
    `fetch_max_wait_ms` bounds how long Kafka holds a fetch that found no records (the
    client's default, 500 ms, unless given).

    `progress`: the service's database, to keep the group's progress marks in; a record
    delivered again after a crash is then left out if its effects are durable already
    (`chassis.progress`).
    """
    if outage_timeout + retry_wait_max >= _MAX_POLL_INTERVAL:
        raise ValueError(
            f"outage_timeout + retry_wait_max must stay below {_MAX_POLL_INTERVAL:g} s"
        )
    marks = None if progress is None else Progress(progress[PROGRESS], group_id)
    batches = BatchConsumer(
        handler,
        DeadLetters(publisher, group_id),
        group_id,
        attempts=attempts,
        wait_initial=retry_wait_initial,
        wait_max=retry_wait_max,
        outage_timeout=outage_timeout,
        progress=marks,
    )
    under_way = _BatchUnderWay(group_id, BATCH_WAIT_ON_REVOKE_SECONDS, marks)
    subscriber = broker.subscriber(
        *topics,
        group_id=group_id,
        # Without this, Kafka's default "latest" silently drops events sent before we joined.
        auto_offset_reset="earliest",
        batch=True,
        max_records=max_records,
        batch_timeout_ms=batch_timeout_ms,
        fetch_max_wait_ms=fetch_max_wait_ms,
        # We commit ourselves, only after the effect is durable.
        ack_policy=AckPolicy.MANUAL,
        decoder=_raw_body,
        listener=under_way,
        rebalance_timeout_ms=int(REBALANCE_TIMEOUT_SECONDS * 1000),
        heartbeat_interval_ms=HEARTBEAT_INTERVAL_MS,
    )

    @subscriber
    async def on_batch(body: list[bytes], message: KafkaMessage) -> None:
        if under_way.revoked:
            # Not ours to handle now: the next assignment reads it again from the last
            # commit, here or at the partitions' new owner.
            log.info("batch delivered during a rebalance; left to the next assignment")
            with contextlib.suppress(KafkaError, AssertionError, ValueError):
                await message.nack()
            return
        under_way.begin()
        try:
            await _handle(message)
        finally:
            under_way.end()

    async def _handle(message: KafkaMessage) -> None:
        raw = message.raw_message
        records: tuple[ConsumerRecord[Any, Any], ...] = raw if isinstance(raw, tuple) else (raw,)
        try:
            handled = await batches.consume(records)
        except _Redeliver:
            log.exception("batch failed; it will be delivered again", extra={"group": group_id})
            await message.nack()
            return
        except Exception:
            # Not the handler's failure (that is retried or dead-lettered above): a fault of
            # our own. Give the batch back after the longest wait, not in a tight loop.
            log.exception("batch failed; it will be delivered again", extra={"group": group_id})
            await asyncio.sleep(retry_wait_max)
            await message.nack()
            return
        await message.ack()
        for item in handled:
            EVENTS_CONSUMED.labels(item.topic, group_id).inc()
