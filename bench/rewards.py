"""Events per second that one rewards worker process scores, beside two baselines.

In the same run, on the same topics and the same MongoDB-wire server:

- raw: how fast aiokafka alone reads the bench's events from the topics;
- naive: a per-message FastStream subscriber doing one database write per event;
- worker: `python -m rewards worker` (batches, one standing write per employee and batch),
  from its start until every award of the bench's events is in its database;
- profile: where the worker's time goes, one batch handled in this process with the
  database calls timed (wall time: the ledger is inserted in chunks while scoring goes on).

    uv run python bench/rewards.py [--events 60000] [--employees 50] [--naive-seconds 20]

Only 127.0.0.1 is contacted (or MONGODB_URL / KAFKA_BOOTSTRAP_SERVERS when set). Every
run uses databases and consumer groups of its own; the databases are left in place.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import sys
import tempfile
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from faststream import AckPolicy
from faststream.kafka import KafkaBroker
from pymongo import AsyncMongoClient

ROOT = Path(__file__).resolve().parents[1]
# This script's folder comes first on the path, and this file would shadow the package.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "services/rewards/tests/integration")]
sys.path.append(str(ROOT / "bench"))  # last: the services' packages come first

from stats import header, row  # noqa: E402
from streams import day, end_offsets, engagement, share, start_group_at_end  # noqa: E402

from chassis.consumer import Consumed  # noqa: E402
from chassis.outbox import Outbox  # noqa: E402
from contracts import AnyEvent, EngagementKind  # noqa: E402
from rewards.adapters.mongo import RewardsRepository  # noqa: E402
from rewards.bootstrap import CONSUMES  # noqa: E402
from rewards.config import RewardsSettings  # noqa: E402
from rewards.service_layer import handlers  # noqa: E402
from support import KAFKA, MONGODB_URL, ServiceProcess, ref  # noqa: E402


def events_for(tenant: str, count: int, employees: int) -> list[AnyEvent]:
    out: list[AnyEvent] = []
    for i in range(count):
        employee, when = f"e{i % employees}", day(i // (employees * 20))
        if (i // employees) % 3 == 0:
            out.append(share(tenant, employee, when))
        else:
            out.append(engagement(tenant, employee, when, EngagementKind.CLICK))
    return out


async def produce(events: list[AnyEvent]) -> dict[TopicPartition, int]:
    """Send `events`; returns where each partition stood before them."""
    before = await end_offsets(CONSUMES)
    producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", linger_ms=10)
    await producer.start()
    try:
        acks = [
            await producer.send(e.topic, e.to_json(), key=e.partition_key().encode())
            for e in events
        ]
        await asyncio.gather(*acks)
    finally:
        await producer.stop()
    return before


async def raw_read_rate(since: dict[TopicPartition, int], count: int, tenant: str) -> float:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(since))
        for partition, offset in since.items():
            consumer.seek(partition, offset)
        marker, seen, started = tenant.encode(), 0, time.perf_counter()
        while seen < count and time.perf_counter() - started < 60:
            for records in (await consumer.getmany(timeout_ms=500, max_records=10_000)).values():
                seen += sum(marker in r.value for r in records)
        return seen / (time.perf_counter() - started)
    finally:
        await consumer.stop()


async def naive_rate(group: str, database: str, seconds: float) -> float:
    """One message at a time, one `$inc` upsert per event, committed per message."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    balances = client[database]["balances"]
    broker = KafkaBroker(KAFKA, logger=None)
    handled = 0

    @broker.subscriber(
        *CONSUMES, group_id=group, auto_offset_reset="earliest", ack_policy=AckPolicy.ACK
    )
    async def on_message(body: dict[str, Any]) -> None:
        nonlocal handled
        data = body.get("data") or {}
        await balances.update_one(
            {"_id": f"{body.get('tenantid')}:{data.get('employee_id')}"},
            {"$inc": {"points": 1}},
            upsert=True,
        )
        handled += 1

    await broker.start()
    try:
        # Rate over a fixed window once the first message is in (group join excluded).
        while handled == 0:
            await asyncio.sleep(0.05)
        start_count, started = handled, time.perf_counter()
        await asyncio.sleep(seconds)
        return (handled - start_count) / (time.perf_counter() - started)
    finally:
        await broker.stop()
        await client.close()


async def worker_rate(group: str, database: str, tenant: str, points: int, count: int) -> float:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    standings = client[database]["standings"]
    # Scoring only the bench's tenant: other traffic on the shared topics is read and skipped.
    env = {"REWARDS_DATABASE": database, "REWARDS_CONSUMER_GROUP": group, "REWARDS_TENANTS": tenant}
    worker = ServiceProcess("rewards", "worker", env=env).start(Path(tempfile.mkdtemp()))
    try:
        await asyncio.to_thread(worker.wait_healthy)
        # Timed from the first batch written (group join excluded, as for the naive
        # consumer), counting only what was left to do at that moment.
        first: tuple[float, int] | None = None
        deadline = time.perf_counter() + 600
        while time.perf_counter() < deadline:
            earned = sum([d.get("earned", 0) async for d in standings.find({"tenant": tenant})])
            if earned and first is None:
                first = (time.perf_counter(), earned)
            if earned >= points:
                break
            await asyncio.sleep(0.1)
        assert first is not None
        left = count * (points - first[1]) / points
        return left / (time.perf_counter() - first[0])
    finally:
        worker.stop()
        await client.close()


class _NoSend:
    async def publish_many(self, events: Sequence[AnyEvent]) -> None:
        return None


def _wall(spans: list[tuple[float, float]]) -> float:
    """Time covered by at least one of `spans` (calls that overlap count once)."""
    covered, reach = 0.0, float("-inf")
    for began, ended in sorted(spans):
        if ended > reach:
            covered += ended - max(began, reach)
            reach = ended
    return covered


async def profile(tenant: str, batches: list[list[AnyEvent]]) -> dict[str, float]:
    """Batches through the worker's handler in this process, the last one's database
    calls timed: wall time per kind of call and in all (inserts run concurrently)."""
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    repo = RewardsRepository(client[ref("chorus_rewards_bench_profile_")])
    await repo.ensure_indexes()
    spans: dict[str, list[tuple[float, float]]] = defaultdict(list)

    def timed(name: str, call: Callable[..., Awaitable[Any]]) -> Callable[..., Awaitable[Any]]:
        @functools.wraps(call)
        async def wrapper(*args: Any, **kwargs: Any) -> Any:
            began = time.perf_counter()
            try:
                return await call(*args, **kwargs)
            finally:
                label = f"{name} {args[0]}" if name == "insert" else name
                spans[label].append((began, time.perf_counter()))

        return wrapper

    repo.standings_of = timed("read standings", repo.standings_of)  # type: ignore[method-assign]
    repo.insert_new = timed("insert", repo.insert_new)  # type: ignore[method-assign]
    repo.apply_standings = timed("write standings", repo.apply_standings)  # type: ignore[method-assign]
    services = handlers.Services(
        repo=repo,
        publisher=_NoSend(),
        unit_outbox=Outbox(repo.units, _NoSend(), 10),  # type: ignore[arg-type]
        clawback_outbox=Outbox(repo.clawbacks, _NoSend(), 10),  # type: ignore[arg-type]
    )
    offset, total = 0, 0.0
    for batch in batches:
        spans.clear()
        consumed = [Consumed(e, e.topic, 0, offset + i) for i, e in enumerate(batch)]
        offset += len(batch)
        began = time.perf_counter()
        await handlers.on_events(services, consumed)
        total = time.perf_counter() - began
    await client.close()
    walls = {label: _wall(s) for label, s in spans.items()}
    walls["in the database"] = _wall([span for s in spans.values() for span in s])
    walls["total"] = total
    return walls


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=60_000)
    parser.add_argument("--employees", type=int, default=50)
    parser.add_argument("--naive-seconds", type=float, default=20.0)
    args = parser.parse_args()

    tenant = ref("bench-rewards-")
    events = events_for(tenant, args.events, args.employees)
    # 10 points a share, 1 a unique click; 20 events per employee and day stay under caps.
    points = sum(10 if e.topic == CONSUMES[0] else 1 for e in events)
    worker_group, naive_group = ref("rewards-bench-"), ref("rewards-bench-naive-")
    await start_group_at_end(worker_group)
    await start_group_at_end(naive_group)
    began = time.perf_counter()
    since = await produce(events)
    print(f"produced {len(events):,} events in {time.perf_counter() - began:.1f} s")

    raw = await raw_read_rate(since, len(events), tenant)
    naive = await naive_rate(naive_group, ref("chorus_rewards_bench_naive_"), args.naive_seconds)
    rate = await worker_rate(
        worker_group, ref("chorus_rewards_bench_"), tenant, points, len(events)
    )
    print(f"\n{header('consumer (per s: events)')}")
    print(row("raw aiokafka read (no processing)", per_second=raw))
    print(row("rewards worker (1 process)", per_second=rate))
    print(row("naive: per-message subscriber, 1 write/event", per_second=naive))
    print(f"worker / naive: {rate / naive:.1f}x\n")
    size = RewardsSettings.model_fields["batch_size"].default
    # Two batches: the second finds the standings the first wrote, as a running worker does.
    sample = events_for(ref("bench-profile-"), 2 * size, args.employees)
    spent = await profile(tenant, [sample[:size], sample[size:]])
    total = spent.pop("total")
    database = spent.pop("in the database")
    print(f"profile of one batch of {size:,} events, {args.employees} employees: {total:.2f} s")
    for name, seconds in sorted(spent.items(), key=lambda kv: -kv[1]):
        print(f"  {name:<24} {seconds:6.2f} s  {seconds / total:5.0%}")
    # Wall time with a database call in flight; the rest is scoring and building events.
    print(f"  {'in the database':<24} {database:6.2f} s  {database / total:5.0%}")


if __name__ == "__main__":
    asyncio.run(main())
