"""Records to Kafka in bulk: one produce request per partition carries every record queued
while the previous one was in flight.

For a path where every request produces a record (the short-link redirect). The
FastStream publisher costs tens of microseconds a record in its middlewares and aiokafka's
`send()` as much again, and a produce request per record costs a socket write each;
appending to a record batch costs a few microseconds. Same producer guarantees as
everywhere (acks=all, idempotence on) and the same key-to-partition mapping, so records
keep their order per key with those other producers write. A topic's partitions follow the
cluster's metadata: once partitions are added, keys are placed by the new count, as
Kafka's own producers place them. No tracing or publish metrics per record: the caller
counts what it sends.

A caller that cannot wait long (a visitor is waiting) gets an answer within `ack_timeout`
either way: acknowledged, or late, with a future of the outcome still to come.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.cluster import ClusterMetadata
from aiokafka.partitioner import DefaultPartitioner
from cachetools import LRUCache, TTLCache
from faststream.kafka.security import parse_security
from faststream.security import BaseSecurity

from contracts import CONTENT_TYPE, AnyEvent

log = logging.getLogger(__name__)

_HEADERS = [("content-type", CONTENT_TYPE.encode())]

Late = asyncio.Future[None]
"""The outcome of a record that was not acknowledged in time: None once it is, or the error."""


Sent = Callable[[Late | None, BaseException | None], None]
"""Told a record's outcome: (None, None) once Kafka has it, (Late, None) when that takes
over `ack_timeout`, or (None, error)."""


class _Record:
    __slots__ = ("answered", "key", "late", "queued_at", "then", "value")

    def __init__(self, key: bytes, value: bytes, then: Sent, at: float):
        self.key = key
        self.value = value
        self.then = then
        self.queued_at = at
        self.answered = False
        self.late: Late | None = None

    def settle(self, error: BaseException | None) -> None:
        if not self.answered:
            self.answered = True
            self._tell(None, error)
        elif self.late is not None and not self.late.done():
            if error is None:
                self.late.set_result(None)
            else:
                self.late.set_exception(error)

    def give_up_waiting(self, loop: asyncio.AbstractEventLoop) -> None:
        """Answer the caller now; the outcome follows on a `Late` future."""
        if not self.answered:
            self.answered = True
            self.late = loop.create_future()
            self._tell(self.late, None)

    def _tell(self, late: Late | None, error: BaseException | None) -> None:
        try:
            self.then(late, error)
        except Exception as exc:
            # One caller's failure must not keep the rest of its batch from their answers.
            log.exception("a record's callback failed", extra={"error": repr(exc)})


def _resolve(
    done: asyncio.Future[Late | None], late: Late | None, error: BaseException | None
) -> None:
    if done.done():
        return
    if error is None:
        done.set_result(late)
    else:
        done.set_exception(error)


class BulkProducer:
    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        *,
        ack_timeout: float = 0.5,
        request_timeout: float = 30.0,
        max_batch_bytes: int = 512 * 1024,
        metadata_max_age: float = 300.0,
        max_placed: int = 100_000,
        security: BaseSecurity | None = None,
    ) -> None:
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers.split(","),
            client_id=client_id,
            acks="all",
            enable_idempotence=True,
            max_batch_size=max_batch_bytes,
            request_timeout_ms=int(request_timeout * 1000),
            metadata_max_age_ms=int(metadata_max_age * 1000),
            **parse_security(security),
        )
        self.ack_timeout = ack_timeout
        self._partitioner = DefaultPartitioner()
        # Per topic, its partitions as the cluster's metadata last listed them.
        self._partitions: dict[str, list[int]] = {}
        # key -> partition, per topic: the partitioner hashes in Python, and keys repeat.
        # Forgotten whenever the topic's partitions change.
        self._placed: dict[str, LRUCache[bytes, int]] = {}
        self.max_placed = max_placed
        self._producer.client.cluster.add_listener(self._metadata_updated)
        self._queues: dict[tuple[str, int], list[_Record]] = {}
        # Per partition, the batch handed to the producer and not yet acknowledged.
        self._in_flight: dict[tuple[str, int], list[_Record]] = {}
        # Records of a topic whose partitions are still being looked up.
        self._unmapped: list[_Record] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._watch: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def start(self) -> None:
        # Kept: on Python 3.11 asyncio.get_running_loop() makes a system call (getpid).
        self._loop = asyncio.get_running_loop()
        try:
            await self._producer.start()
        except Exception as exc:
            await self._producer.stop()
            raise RuntimeError(f"Kafka producer did not start: {exc!r}") from exc
        self._watch = asyncio.create_task(self._watch_deadlines())

    async def stop(self) -> None:
        # What is queued goes out first; the producer then waits for what is in flight.
        while self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._watch is not None:
            self._watch.cancel()
        await self._producer.stop()

    def send(self, topic: str, key: bytes, value: bytes) -> asyncio.Future[Late | None]:
        """Queue a record. The future resolves to None once Kafka acknowledged it, to a
        `Late` future if that takes over `ack_timeout`, or to the error if it failed."""
        done = (self._loop or asyncio.get_running_loop()).create_future()
        self.send_then(topic, key, value, functools.partial(_resolve, done))
        return done

    def send_then(self, topic: str, key: bytes, value: bytes, then: Sent) -> None:
        """`send` for a caller that would rather be called than await: `then` is called
        with the outcome as the acknowledgement is handled, with no future in between."""
        loop = self._loop or asyncio.get_running_loop()
        record = _Record(key, value, then, loop.time())
        partitions = self._partitions.get(topic)
        if partitions is None:
            self._unmapped.append(record)
            self._spawn(self._send_unmapped(topic, record))
        else:
            placed = self._placed[topic]
            partition: int | None = placed.get(key)
            if partition is None:
                partition = placed[key] = self._partitioner(key, partitions, partitions)
            self._enqueue(topic, partition, record)

    def _enqueue(self, topic: str, partition: int, record: _Record) -> None:
        queue = self._queues.get((topic, partition))
        if queue is None:
            # No sender for this partition yet: start one; it takes this record and all
            # that arrive while its request is in flight.
            self._queues[(topic, partition)] = [record]
            self._spawn(self._sender(topic, partition))
        else:
            queue.append(record)

    async def _send_unmapped(self, topic: str, record: _Record) -> None:
        try:
            partitions = sorted(await self._producer.partitions_for(topic))
            if topic not in self._partitions:
                self._use_partitions(topic, partitions)
            partitions = self._partitions[topic]
        except Exception as exc:
            record.settle(exc)
            return
        finally:
            self._unmapped.remove(record)
        self._enqueue(topic, self._partitioner(record.key, partitions, partitions), record)

    def _use_partitions(self, topic: str, partitions: list[int]) -> None:
        self._partitions[topic] = partitions
        self._placed[topic] = LRUCache(maxsize=self.max_placed)

    def _metadata_updated(self, cluster: ClusterMetadata) -> None:
        """Called by the client on every metadata refresh: a topic whose partitions changed
        gets its keys placed again."""
        for topic, known in list(self._partitions.items()):
            listed = cluster.partitions_for_topic(topic)
            # None or empty: the topic is missing from this refresh; keep what we know.
            if listed and sorted(listed) != known:
                log.info(
                    "topic partitions changed",
                    extra={"topic": topic, "before": len(known), "now": len(listed)},
                )
                self._use_partitions(topic, sorted(listed))

    def _spawn(self, coro: Any) -> None:
        task = (self._loop or asyncio.get_running_loop()).create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _sender(self, topic: str, partition: int) -> None:
        tp = (topic, partition)
        queue = self._queues[tp]
        try:
            # One turn of the loop first: every request being handled now joins this batch.
            await asyncio.sleep(0)
            # The sender stays while its batch is in flight: what arrives meanwhile waits in
            # the queue and leaves in the next batch, as one produce request.
            while queue:
                batch = self._producer.create_batch()
                taken = 0
                for record in queue:
                    appended = batch.append(
                        key=record.key, value=record.value, timestamp=None, headers=_HEADERS
                    )
                    if appended is None:
                        break
                    taken += 1
                if taken == 0:
                    queue.pop(0).settle(ValueError("record larger than a whole batch"))
                    continue
                records = self._in_flight[tp] = queue[:taken]
                del queue[:taken]
                try:
                    acked = await self._producer.send_batch(batch, topic, partition=partition)
                    await acked
                except Exception as exc:
                    error: BaseException | None = exc
                else:
                    error = None
                del self._in_flight[tp]
                for record in records:
                    record.settle(error)
                # Again one turn of the loop: the requests read meanwhile join the next batch.
                await asyncio.sleep(0)
        finally:
            self._in_flight.pop(tp, None)
            del self._queues[tp]
            # Left only when the loop above was cut short (the process is stopping).
            for record in queue:
                record.settle(RuntimeError("Kafka producer stopped"))

    async def _watch_deadlines(self) -> None:
        """Records waiting longer than `ack_timeout` get their answer: late."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(max(self.ack_timeout / 5, 0.001))
            overdue = loop.time() - self.ack_timeout
            for record in self._unmapped:
                if record.queued_at <= overdue:
                    record.give_up_waiting(loop)
            for records in (*self._in_flight.values(), *self._queues.values()):
                for record in records:
                    if record.queued_at > overdue:
                        break  # oldest first: the rest are younger
                    record.give_up_waiting(loop)


class BatchPublisher:
    """Publishes the events of a consumed batch (thousands at once: rewards' awards, share's
    decided clicks) in record batches of up to `max_batch_size` bytes per partition, with
    the same guarantees as the chassis publisher (acks from every in-sync replica,
    idempotence, order per key) and the same record (CloudEvents JSON, content type).

    The chassis publisher goes through FastStream's per-message publish path (tracing
    and metrics middleware), which cost more CPU than rewards' scoring.

    An event Kafka acknowledged in the last `remember_seconds` is not sent again: a batch
    tried again in this process (a standing another worker wrote meanwhile, an outage)
    makes the same events under the same ids, with the same bytes, and sending them again
    would only put them on the topic twice. (A batch delivered again to another process,
    after a crash, still sends them again; consumers keep one per id.)"""

    def __init__(
        self,
        bootstrap_servers: str,
        client_id: str,
        max_batch_size: int,
        security: BaseSecurity | None = None,
        remember: int = 100_000,
        remember_seconds: float = 600.0,
        producer: BulkProducer | None = None,
    ) -> None:
        self._producer = producer or BulkProducer(
            bootstrap_servers, client_id, max_batch_bytes=max_batch_size, security=security
        )
        self._acked: TTLCache[str, bool] = TTLCache(maxsize=remember, ttl=remember_seconds)

    async def start(self) -> None:
        await self._producer.start()

    async def stop(self) -> None:
        await self._producer.stop()

    async def publish_many(self, events: Sequence[AnyEvent]) -> None:
        """Publish `events`, in order per partition; returns once all are acked."""
        fresh = [event for event in events if event.id not in self._acked]
        sent = [
            self._producer.send(event.topic, event.partition_key().encode(), event.to_json())
            for event in fresh
        ]
        for late in await asyncio.gather(*sent):
            if late is not None:
                await late
        for event in fresh:
            self._acked[event.id] = True
