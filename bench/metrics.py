"""Metrics throughput and freshness, against the real Kafka and MongoDB-wire servers.

Prints:
- events/s that one metrics worker process counts, beside two baselines measured on the
  same events in the same run: a naive per-message FastStream subscriber doing one
  database write per event, and the raw rate at which aiokafka alone reads them;
- click-to-visible latency (p50, p99) at 1,000 clicks/s: from the moment a click event is
  handed to the producer until its fact is in the read model, where every figure query
  sees it.

`uv run python bench/metrics.py [--events 50000] [--seconds 20]`; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo import AsyncMongoClient

REPO = Path(__file__).resolve().parents[1]
# This file is named like the service's package: without this, `import metrics` finds it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO / "tests"))

from chassis.kafka import ensure_topics  # noqa: E402
from contracts import (  # noqa: E402
    ALL_EVENTS,
    EVENTS_BY_TOPIC,
    AnyEvent,
    EngagementObserved,
    EngagementObservedData,
    PostShared,
    PostSharedData,
)
from metrics.domain.facts import fact_id, fact_of  # noqa: E402
from support import KAFKA, MONGODB_URL, ServiceProcess, ref  # noqa: E402

TOPICS = [event.topic for event in ALL_EVENTS]
NETWORKS = ["linkedin", "x", "facebook", "xing"]


def _share(tenant: str, n: int, rng: random.Random) -> PostShared:
    now = datetime.now(UTC)
    return PostShared.create(
        tenant_id=tenant,
        subject=f"s{n}",
        data=PostSharedData(
            share_id=f"s{n}",
            content_id=f"c{rng.randrange(200)}",
            employee_id=f"e{rng.randrange(2000)}",
            employee_groups=[f"team{rng.randrange(20)}"],
            network=rng.choice(NETWORKS),
            short_code=f"k{n:07d}",
            tracked_url=f"https://go.example.com/l/k{n:07d}",
            shared_at=now,
            audience_size=rng.randrange(50, 3000),
            method="intent",
        ),
    )


def _click(tenant: str, n: int, rng: random.Random) -> EngagementObserved:
    now = datetime.now(UTC)
    return EngagementObserved.create(
        tenant_id=tenant,
        subject=f"s{n}",
        data=EngagementObservedData(
            engagement_id=f"g{n}",
            share_id=f"s{rng.randrange(max(n, 1))}",
            content_id=f"c{rng.randrange(200)}",
            employee_id=f"e{rng.randrange(2000)}",
            network=rng.choice(NETWORKS),
            kind="click",
            observed_at=now,
            source="redirect",
            unique=rng.random() < 0.6,
        ),
    )


def events(tenant: str, count: int) -> list[AnyEvent]:
    rng = random.Random(1)
    return [_share(tenant, n, rng) if n % 8 == 0 else _click(tenant, n, rng) for n in range(count)]


async def publish(batch: list[AnyEvent]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        for start in range(0, len(batch), 5000):
            sent = [
                await producer.send(e.topic, e.to_json(), key=e.partition_key().encode())
                for e in batch[start : start + 5000]
            ]
            await asyncio.gather(*sent)
    finally:
        await producer.stop()


async def at_the_end(group: str) -> None:
    """Commit the topics' current end for `group`: it then reads only what comes next."""
    consumer = AIOKafkaConsumer(
        *TOPICS, bootstrap_servers=KAFKA, group_id=group, enable_auto_commit=False
    )
    await consumer.start()
    try:
        while {tp.topic for tp in consumer.assignment()} != set(TOPICS):
            await consumer.getmany(timeout_ms=100)
        await consumer.commit(await consumer.end_offsets(list(consumer.assignment())))
    finally:
        await consumer.stop()


async def lag(group: str) -> int:
    """Records of our topics that `group` has not committed yet."""
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA)
    await admin.start()
    await consumer.start()
    try:
        committed = await admin.list_consumer_group_offsets(group)
        ours = {tp: meta.offset for tp, meta in committed.items() if tp.topic in TOPICS}
        ends = await consumer.end_offsets(list(ours))
        return sum(ends[tp] - offset for tp, offset in ours.items())
    finally:
        await consumer.stop()
        await admin.close()


async def raw_rate(group: str, count: int, limit: float) -> float:
    consumer = AIOKafkaConsumer(
        *TOPICS,
        bootstrap_servers=KAFKA,
        group_id=group,
        enable_auto_commit=False,
        max_poll_records=1000,
    )
    await consumer.start()
    try:
        seen, started = 0, time.perf_counter()
        while seen < count and time.perf_counter() - started < limit:
            for records in (await consumer.getmany(timeout_ms=200)).values():
                seen += len(records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def naive_rate(group: str, database: str, count: int, limit: float) -> float:
    """One FastStream subscriber per message, one database write per event."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    facts = client[database]["naive_facts"]
    broker = KafkaBroker(KAFKA, logger=None)
    done = {"n": 0}

    @broker.subscriber(
        *TOPICS, group_id=group, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK
    )
    async def on_message(message: KafkaMessage) -> None:
        record = message.raw_message
        event = EVENTS_BY_TOPIC[record.topic].from_json(record.value)
        await facts.update_one(
            {"_id": fact_id(event)}, {"$setOnInsert": fact_of(event)}, upsert=True
        )
        done["n"] += 1

    await broker.start()
    started = time.perf_counter()
    try:
        while done["n"] < count and time.perf_counter() - started < limit:
            await asyncio.sleep(0.2)
        return done["n"] / (time.perf_counter() - started)
    finally:
        await broker.stop()
        await client.close()


async def worker_rate(
    worker: ServiceProcess, log_dir: Path, group: str, count: int, limit: float
) -> float:
    """From the worker's start (its start-up included) until it has committed every event."""
    started = time.perf_counter()
    worker.start(log_dir)
    while time.perf_counter() - started < limit:
        if await lag(group) == 0:
            break
        await asyncio.sleep(0.2)
    return (count - await lag(group)) / (time.perf_counter() - started)


async def click_latency(tenant: str, database: str, seconds: float, rate: int) -> list[float]:
    """Clicks at `rate`/s; every 50th is timed from hand-over to the producer to visible."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    facts = client[database]["facts"]
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=2
    )
    await producer.start()
    rng = random.Random(2)
    pending: dict[str, float] = {}
    latencies: list[float] = []
    stop = asyncio.Event()

    async def watch() -> None:
        # Oldest first, by `_id` (the lookup FerretDB answers from its key): a click found
        # behind a slower one is timed when its turn comes, so latencies are upper bounds.
        while not (stop.is_set() and not pending):
            if pending:
                oldest = next(iter(pending))
                if await facts.find_one({"_id": oldest}, {"_id": 1}) is not None:
                    latencies.append(time.perf_counter() - pending.pop(oldest))
                    continue
            await asyncio.sleep(0.005)

    watcher = asyncio.create_task(watch())
    try:
        started = time.perf_counter()
        n = 0
        while time.perf_counter() - started < seconds:
            # 10 clicks every 10 ms: 1,000 clicks/s.
            for _ in range(rate // 100):
                click = _click(tenant, 10_000_000 + n, rng)
                if n % 50 == 0:
                    pending[fact_id(click)] = time.perf_counter()
                await producer.send(
                    click.topic, click.to_json(), key=click.partition_key().encode()
                )
                n += 1
            await asyncio.sleep(max(0.0, started + n / rate - time.perf_counter()))
        await producer.flush()
        stop.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(watcher, 30)
        if pending:
            print(f"{len(pending)} timed clicks not visible 30 s after the last was sent")
    finally:
        watcher.cancel()
        await producer.stop()
        await client.close()
    return latencies


def _pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=50_000)
    parser.add_argument("--seconds", type=float, default=20.0, help="latency run length")
    args = parser.parse_args()

    suffix = ref("bench")
    tenant = f"bench-{suffix}"
    database = f"chorus_metrics_{suffix}"
    groups = {name: f"metrics-{name}-{suffix}" for name in ("worker", "naive", "raw")}
    log_dir = Path(tempfile.mkdtemp(prefix="bench-metrics-"))

    worker = ServiceProcess(
        "metrics",
        "worker",
        env={"METRICS_DATABASE": database, "METRICS_CONSUMER_GROUP": groups["worker"]},
    )
    await ensure_topics(KAFKA, TOPICS, partitions=6, replication=1)
    try:
        for group in groups.values():
            await at_the_end(group)

        batch = events(tenant, args.events)
        started = time.perf_counter()
        await publish(batch)
        print(f"published {len(batch)} events in {time.perf_counter() - started:.1f} s")

        raw = await raw_rate(groups["raw"], len(batch), limit=60)
        ours = await worker_rate(worker, log_dir, groups["worker"], len(batch), limit=120)
        naive = await naive_rate(groups["naive"], database, len(batch), limit=30)

        print()
        print(f"{'consumer':<46}{'events/s':>12}")
        print(f"{'raw aiokafka read (no processing)':<46}{raw:>12,.0f}")
        print(f"{'metrics worker (1 process, start-up included)':<46}{ours:>12,.0f}")
        print(f"{'naive: per-message subscriber, 1 write/event':<46}{naive:>12,.0f}")
        print(f"worker / naive: {ours / max(naive, 1e-9):.1f}x")

        latencies = await click_latency(tenant, database, args.seconds, rate=1000)
        print()
        print(
            f"click-to-visible at 1,000 clicks/s for {args.seconds:g} s"
            f" ({len(latencies)} timed clicks):"
            f" p50 {_pct(latencies, 50) * 1000:.0f} ms, p99 {_pct(latencies, 99) * 1000:.0f} ms"
        )
    finally:
        worker.stop()
        print(f"(worker log: {worker.log_path}; database {database} is left for inspection)")


if __name__ == "__main__":
    asyncio.run(main())
