"""Employee feed latency with 10,000 items and 100,000 employees in one tenant.

Seeds one tenant in a database of its own on the MongoDB-wire server (the item documents
exactly as the content service writes them, and what the employees already shared), then
times, in the same run and on the same data:

- baseline: a plain indexed `find` of the tenant's 20 newest published items;
- feed: the feed use case (visibility, targeting, language phases, ordering, shared marks),
  served from the read model (adapters/feed_view.py), which this process loads first;
- feed over HTTP: the same through the api in this process (auth, validation, JSON);
- the read model: how long it takes to load and what it holds in memory (tracemalloc);
- an api started as its own process (`python -m content api`, uvicorn, as deployed): how
  long until it answers, its first feed request, then 50 concurrent distinct employees
  over keep-alive connections (a minimal HTTP/1.1 client, so the bench's own CPU is small):
  first paced like people reading (each asks every 0.5-1.5 s), then back to back (each
  sends its next request as soon as the last is answered: latency there is mostly
  queueing, so the requests per second matter as much).

    uv run python bench/feed.py [--items 10000] [--employees 100000] [--requests 300]

Only 127.0.0.1 is contacted (or MONGODB_URL / KAFKA_BOOTSTRAP_SERVERS when set).
The seeded database (`chorus_bench_feed_<items>_<employees>`) is kept and reused by the
next run with the same sizes: FerretDB 1.24 was seen to die of a SIGBUS when a database
that had been busy was dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from stats import header, percentile, row, summary

from chassis.auth import Principal, issue_token
from chassis.process import create_app
from chassis.settings import LOCAL_JWT_SECRET
from content.adapters.feed_view import MongoFeedReadModel
from content.adapters.mongo import HIDDEN, NEVER, ContentRepository
from content.adapters.preview import LinkPreviewer
from content.bootstrap import DEFINITION
from content.config import ContentSettings
from content.domain import feed
from content.domain.feed import TenantFeed
from content.service_layer import handlers
from contracts import audience

MONGODB_URL = os.environ.get("MONGODB_URL", "mongodb://127.0.0.1:27017")
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
TENANT = "bench-tenant"
GROUPS = [f"team-{i}" for i in range(40)] + [f"dept-{i}" for i in range(10)]
LOCATIONS = [f"site-{i}" for i in range(20)]
LANGUAGES = ["en", "de", "fr", "es", "it"]
TOPICS = ["careers", "product", "culture", "events", "sustainability", "engineering"]
KINDS = ["article", "internal", "job", "event"]
BATCH = 5000
CONCURRENT = 50


def _item(rng: random.Random, now: datetime, index: int) -> dict[str, Any]:
    publish_at = now - timedelta(minutes=rng.randrange(90 * 24 * 60))
    groups = rng.sample(GROUPS, rng.randint(1, 3)) if rng.random() < 0.4 else []
    locations = rng.sample(LOCATIONS, rng.randint(1, 2)) if rng.random() < 0.3 else []
    languages = [rng.choice(LANGUAGES)] if rng.random() < 0.1 else []
    status = "published" if rng.random() < 0.9 else rng.choice(["draft", "expired", "archived"])
    expires_at = now + timedelta(days=rng.randint(1, 60)) if rng.random() < 0.3 else None
    content_id = f"{int(publish_at.timestamp() * 1000):012x}{index:012x}"
    return {
        "_id": content_id,
        "tenant": TENANT,
        "title": f"Item {index}",
        "kind": rng.choice(KINDS),
        "url": f"https://example.com/items/{index}",
        "summary": "Something worth sharing. " * 4,
        "language": rng.choice(LANGUAGES),
        "topics": rng.sample(TOPICS, rng.randint(1, 2)),
        "suggested_texts": {"linkedin": "Have a look!", "x": "Have a look!"},
        "audience": {"groups": groups, "locations": locations, "languages": languages},
        "aud_groups": audience.axis(groups),
        "aud_locations": audience.axis(locations),
        "aud_languages": audience.language_axis(languages),
        "status": status,
        "publish_at": publish_at,
        "publish_day": feed.publish_day(publish_at),
        "expires_at": expires_at,
        "live_until": expires_at or NEVER,
        # Popularity is skewed: a few items are shared a lot.
        "shares": int(rng.paretovariate(1.2)) - 1,
        "rev": 1,
        "created_by": "curator",
        "created_at": publish_at,
        "updated_at": publish_at,
        "approved_by": "curator",
        "_outbox": {},
        "_outbox_n": 0,
    }


def _token(person: Principal) -> dict[str, str]:
    jwt = issue_token(
        LOCAL_JWT_SECRET,
        sub=person.employee_id,
        tenant=TENANT,
        groups=person.groups,
        location=person.location,
        languages=person.languages,
    )
    return {"Authorization": f"Bearer {jwt}"}


def _employee(rng: random.Random, index: int) -> Principal:
    return Principal(
        employee_id=f"emp-{index}",
        tenant=TENANT,
        roles=frozenset({"employee"}),
        groups=frozenset(rng.sample(GROUPS, rng.randint(1, 3))),
        location=rng.choice(LOCATIONS),
        languages=tuple(rng.sample(LANGUAGES, rng.randint(1, 2))),
    )


async def _insert(collection: Any, docs: list[dict[str, Any]]) -> None:
    for start in range(0, len(docs), BATCH):
        await collection.insert_many(docs[start : start + BATCH], ordered=False)


async def seed(repo: ContentRepository, items: int, employees: int, rng: random.Random) -> int:
    """Seed the tenant; returns how many shares the employees made."""
    now = datetime.now(UTC)
    docs = [_item(rng, now, i) for i in range(items)]
    await _insert(repo.items, docs)
    live = [d["_id"] for d in docs if d["status"] == "published"]
    # What employees already shared, so the feed's shared marks have real work: one item
    # on average per employee, the popular ones more often; one document per employee, as
    # the service keeps them.
    sharers = []
    for index in range(employees):
        shared = {
            live[min(int(rng.paretovariate(0.6)), len(live)) - 1]
            for _ in range(rng.choice((0, 0, 1, 1, 1, 2, 3)))
        }
        if shared:
            sharers.append(
                {
                    "_id": f"{TENANT}:emp-{index}",
                    "tenant": TENANT,
                    "employee_id": f"emp-{index}",
                    "content_ids": sorted(shared),
                }
            )
    await _insert(repo.shared, sharers)
    return sum(len(d["content_ids"]) for d in sharers)


def _summary(name: str, values: list[float]) -> dict[str, Any]:
    return {"name": name, "stats": summary(values), "p50": percentile(values, 50)}


async def footprint(repo: ContentRepository) -> tuple[int, int, int, int]:
    """Bytes the tenant's live items and its marks take in the read model, and how many."""
    tracemalloc.start()
    try:
        query = {"tenant": TENANT, "status": "published"}
        docs = [d async for d in repo.items.find(query, HIDDEN).batch_size(1000)]
        items = TenantFeed(docs)
        del docs
        items_bytes = tracemalloc.get_traced_memory()[0]
        cursor = repo.shared.find({"tenant": TENANT}, {"employee_id": 1, "content_ids": 1})
        marks = [(d["employee_id"], d["content_ids"]) async for d in cursor.batch_size(1000)]
        marked = TenantFeed((), marks)
        del marks
        marks_bytes = tracemalloc.get_traced_memory()[0] - items_bytes
        return items_bytes, len(items.items), marks_bytes, marked.employees_with_marks
    finally:
        tracemalloc.stop()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class _Connection:
    """One keep-alive HTTP/1.1 connection. The concurrent loads use it rather than httpx,
    which spends more CPU per request than the api does and shares the machine's cores."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader, self._writer = reader, writer

    @classmethod
    async def open(cls, port: int) -> _Connection:
        return cls(*await asyncio.open_connection("127.0.0.1", port))

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, bytes]:
        lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self._writer.write(f"GET {path} HTTP/1.1\r\nHost: bench\r\n{lines}\r\n".encode())
        head = await self._reader.readuntil(b"\r\n\r\n")
        status = int(head.split(b" ", 2)[1])
        length = 0
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        return status, await self._reader.readexactly(length)

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(OSError):
            await self._writer.wait_closed()


async def separate_api(
    database: str, tokens: list[dict[str, str]], seconds: float
) -> tuple[float, float, list[dict[str, Any]]]:
    """Start `python -m content api`, time its start and first feed request, then load it
    with CONCURRENT distinct employees (paced like readers, then back to back)."""
    port = _free_port()
    env = {
        **os.environ,
        "MONGODB_URL": MONGODB_URL,
        "KAFKA_BOOTSTRAP_SERVERS": KAFKA,
        "CONTENT_DATABASE": database,
        "CONTENT_API_PORT": str(port),
        "CHORUS_HOST": "127.0.0.1",
        "CHORUS_LOG_LEVEL": "WARNING",
    }
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "-m", "content", "api"], env=env)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError("the api process exited during startup")
            try:
                probe = await _Connection.open(port)
            except OSError:
                await asyncio.sleep(0.05)
                continue
            status, _ = await probe.get("/healthz", {})
            await probe.close()
            if status == 200:
                break
        ready = time.monotonic() - started
        first_connection = await _Connection.open(port)
        before = time.perf_counter()
        status, body = await first_connection.get("/api/v1/feed", tokens[0])
        first_ms = (time.perf_counter() - before) * 1000
        await first_connection.close()
        assert status == 200, body

        async def person(index: int, pause: tuple[float, float], until: float) -> list[float]:
            rng = random.Random(index)
            # Each concurrent caller is a different employee, and changes at every request.
            mine = tokens[1 + index :: CONCURRENT]
            samples: list[float] = []
            connection = await _Connection.open(port)
            try:
                if pause[1]:
                    # People arrive at their own moments, not all in the same millisecond.
                    await asyncio.sleep(rng.uniform(0, pause[1]))
                while time.monotonic() < until:
                    headers = mine[len(samples) % len(mine)]
                    began = time.perf_counter()
                    status, body = await connection.get("/api/v1/feed", headers)
                    samples.append((time.perf_counter() - began) * 1000)
                    assert status == 200, body
                    if pause[1]:
                        await asyncio.sleep(rng.uniform(*pause))
                return samples
            finally:
                await connection.close()

        results = []
        # Paced first: right after the start, as people would come; then saturated.
        for name, pause in (
            (f"{CONCURRENT} paced (0.5-1.5 s)", (0.5, 1.5)),
            (f"{CONCURRENT} back to back", (0.0, 0.0)),
        ):
            until = time.monotonic() + seconds
            began = time.monotonic()
            runs = await asyncio.gather(*(person(i, pause, until) for i in range(CONCURRENT)))
            samples = [value for run in runs for value in run]
            result = _summary(f"HTTP api process, {name}", samples)
            result["rate"] = len(samples) / (time.monotonic() - began)
            results.append(result)
        return ready, first_ms, results
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()


async def interleaved(
    calls: dict[str, Callable[[int], Awaitable[Any]]], rounds: int, budget: float
) -> list[dict[str, Any]]:
    """Time each call once per round, in turn, so a load change on the shared server hits
    every measurement alike; stops after `rounds` or once `budget` seconds are spent."""
    for call in calls.values():
        await call(0)  # warm-up: connections, the server's caches
    samples: dict[str, list[float]] = {name: [] for name in calls}
    deadline = time.monotonic() + budget
    for i in range(rounds):
        for name, call in calls.items():
            started = time.perf_counter()
            await call(i + 1)
            samples[name].append((time.perf_counter() - started) * 1000)
        if time.monotonic() > deadline:
            break
    return [_summary(name, values) for name, values in samples.items()]


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--budget", type=float, default=100.0, help="seconds of measuring")
    parser.add_argument(
        "--load-seconds", type=float, default=20.0, help="seconds of each concurrent load"
    )
    args = parser.parse_args()

    database = f"chorus_bench_feed_{args.items}_{args.employees}"
    rng = random.Random(42)
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        db = client[database]
        repo = ContentRepository(db)
        seeded = await db["bench"].find_one({"_id": "seed"})
        if seeded is None:
            # A run stopped half-way may have left part of the data.
            for collection in (repo.items, repo.shared):
                await collection.delete_many({})
            await repo.ensure_indexes()
            started = time.monotonic()
            shares = await seed(repo, args.items, args.employees, rng)
            await db["bench"].insert_one({"_id": "seed", "shares": shares})
            print(
                f"seeded {args.items:,} items and {shares:,} shares by {args.employees:,} "
                f"employees in one tenant in {time.monotonic() - started:.1f} s"
            )
        else:
            print(
                f"reusing {args.items:,} items and {seeded['shares']:,} shares by "
                f"{args.employees:,} employees in one tenant ({database})"
            )
        people = [_employee(rng, rng.randrange(args.employees)) for _ in range(args.requests + 1)]
        # For the concurrent loads: 40 distinct employees per concurrent caller.
        crowd = [_employee(rng, i) for i in rng.sample(range(args.employees), 40 * CONCURRENT + 1)]
        items_bytes, live, marks_bytes, marked = await footprint(repo)
        model = MongoFeedReadModel(repo)
        started = time.monotonic()
        await model.warm()
        warmed = time.monotonic() - started
        # The feed publishes nothing: a repository without a publisher only reads.
        services = handlers.Services(
            repo=repo,
            previewer=LinkPreviewer(timeout=1, max_bytes=1024, max_redirects=0),
            feed=model,
        )

        async def baseline(i: int) -> None:
            cursor = (
                repo.items.find({"tenant": TENANT, "status": "published"}).sort("_id", -1).limit(20)
            )
            assert len([doc async for doc in cursor]) == 20

        async def feed_page(i: int) -> None:
            docs, _ = await handlers.employee_feed(services, people[i], None, 20, feed.Filters())
            assert docs

        settings = ContentSettings(
            kafka_bootstrap_servers=KAFKA,
            mongodb_url=MONGODB_URL,
            database=database,
            log_level="WARNING",
        )
        app = create_app(DEFINITION, "api", settings)
        tokens = [_token(p) for p in people]
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(app.router.lifespan_context(app))
            http = await stack.enter_async_context(
                httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://c")
            )

            async def feed_http(i: int) -> None:
                response = await http.get("/api/v1/feed", headers=tokens[i])
                assert response.status_code == 200, response.text

            results = await interleaved(
                {
                    "plain indexed find (baseline)": baseline,
                    "feed, first page": feed_page,
                    "feed over HTTP (in process)": feed_http,
                },
                args.requests,
                args.budget,
            )

        await model.close()
        ready, first_ms, loads = await separate_api(
            database, [_token(p) for p in crowd], args.load_seconds
        )

        print(
            f"\nread model: {live:,} live items in {items_bytes / 2**20:.1f} MiB "
            f"({items_bytes / max(live, 1) / 1024:.1f} KiB each), marks of {marked:,} "
            f"employees in {marks_bytes / 2**20:.1f} MiB "
            f"({marks_bytes / max(marked, 1):.0f} B each); loaded in {warmed:.1f} s"
        )
        print(f"api process: answering {ready:.1f} s after its start (read model loaded)")
        print(f"\n{header()}")
        print(row("feed over HTTP, api process: first after its start", first=first_ms))
        for r in [*results, *loads]:
            print(row(r["name"], r["stats"], per_second=r.get("rate"), decimals=2))
        base = results[0]["p50"]
        print(f"\nfeed p50 is {results[1]['p50'] / base:.4f}x the plain find's p50")
        if results[0]["stats"].n < 100:
            print("(with fewer than 100 rounds, p99 is the slowest sample)")
    finally:
        await client.close()


if __name__ == "__main__":
    asyncio.run(main())
