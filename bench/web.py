"""The web app's feed page: server time under 50 concurrent people, and a first visit's bytes.

On the data set of `bench/feed.py` (10,000 items, 100,000 employees in one tenant; seeded
into its database if that bench has not done it yet), starts a content api, a share api and
a web api, signs in distinct people through the development sign-in, and prints in one run:

- the first feed page after the processes start;
- the feed page's server time (`Server-Timing`) and latency, p50 and p99, with 50 people
  browsing at once (the first page, a filter, the next page; each person their own
  session, reading each page 0.5 to 1.5 s), and the same back to back as a stress;
- beside it, the direct API calls the page makes (content's feed, share's advocate), at
  the same concurrency;
- the bytes a first visit to the feed transfers, compressed, without images.

Targets: feed page p99 ≤ 150 ms with 50 concurrent people; first visit ≤ 100 kB.

    uv run python bench/web.py [--people 500] [--concurrency 50] [--requests 2000]

`--page analytics` measures the program team's analytics page instead, on one tenant of
`--employees` with `--events` (1,000,000: 1 in 40 an advocate enrolling, 1 in 8 a share,
the rest clicks, over a year) published to Kafka in batches and counted by a real metrics
worker into a database of its own, kept for the next run (a marker document; never
dropped; an interrupted seed resumes). It starts a metrics api, a rewards api, a share
api (naming a team as the leaders, so the figures count them) and a web api, signs in
`--curators` curators and prints the first page after the start, then the page's server
time for the default view (last 30 days) and a team's last 90 days, with the curators
browsing as above (each open page polling its headline figures every second, as htmx
does, also timed) and back to back, beside the API calls the page makes for the same views
(share's leaders' group, then metrics' dashboard; rewards' leaderboard meanwhile), at the
same concurrency. While the pages are read, events come in (`--events-per-second`, 1 by
default: the seeded year averages 0.03) in the seeded mix: visitors click, advocates share
and enroll, counted by a metrics worker that the api follows, so what the api keeps goes
stale as it would. It also prints how long the
metrics api took to load its facts, and its memory.
Target: p99 ≤ 300 ms.

    uv run python bench/web.py --page analytics [--events 1000000] [--curators 15]
        [--page-requests 150] [--seed-only]

Only 127.0.0.1 is contacted (or MONGODB_URL / KAFKA_BOOTSTRAP_SERVERS when set).
"""

from __future__ import annotations

import argparse
import asyncio
import html
import importlib.util
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

REPO = Path(__file__).resolve().parents[1]
# This file is named like the web package: without this, `import web` finds it.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != REPO / "bench"]
sys.path.insert(0, str(REPO / "tests"))
sys.path.append(str(REPO / "bench"))  # last: the services' packages come first

from stats import header, percentile, row  # noqa: E402

from contracts import (  # noqa: E402
    AdvocateEnrolled,
    AdvocateEnrolledData,
    EngagementObserved,
    EngagementObservedData,
    PostShared,
    PostSharedData,
)
from support import MONGODB_URL, ServiceProcess, ref, token  # noqa: E402

# People browsing: each reads a page for 0.5 to 1.5 s (a fast reader) before the next one.
# Back to back: no reading at all, the most the processes serve (a stress, not a target).
BROWSING = "browsing, 0.5-1.5 s between a person's pages"
MODES: dict[str, tuple[float, float] | None] = {BROWSING: (0.5, 1.5), "back to back": None}


def _feed_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_feed", REPO / "bench" / "feed.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


async def ensure_seeded(feed: Any, items: int, employees: int) -> str:
    database = f"chorus_bench_feed_{items}_{employees}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        db = client[database]
        if await db["bench"].find_one({"_id": "seed"}) is None:
            repo = feed.ContentRepository(db)
            for collection in (repo.items, repo.shared):
                await collection.delete_many({})
            await repo.ensure_indexes()
            started = time.monotonic()
            shares = await feed.seed(repo, items, employees, random.Random(42))
            await db["bench"].insert_one({"_id": "seed", "shares": shares})
            spent = time.monotonic() - started
            print(f"seeded {items:,} items and {shares:,} shares in {spent:.0f} s")
    finally:
        await client.close()
    return database


def person_json(principal: Any, name: str) -> dict[str, Any]:
    return {
        "id": principal.employee_id,
        "name": name,
        "tenant": principal.tenant,
        "roles": sorted(principal.roles),
        "groups": sorted(principal.groups),
        "location": principal.location,
        "languages": list(principal.languages),
    }


async def sign_in(client: httpx.AsyncClient, person: dict[str, Any]) -> httpx.Cookies:
    """A session of the person's own; the shared client keeps no cookie of it."""
    client.cookies.clear()
    page = await client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert csrf is not None
    response = await client.post(
        "/signin",
        data={"person": f"{person['tenant']}/{person['id']}", "csrf": csrf.group(1)},
        cookies=page.cookies,
    )
    assert response.status_code == 303, response.text[:300]
    client.cookies.clear()
    return response.cookies


def server_ms(response: httpx.Response) -> float:
    found = re.search(r"dur=([0-9.]+)", response.headers.get("server-timing", ""))
    return float(found.group(1)) if found else float("nan")


async def get(client: httpx.AsyncClient, path: str, **kwargs: Any) -> httpx.Response:
    """GET `path`; once more if the server closed the kept-alive connection it was sent on
    (its idle timeout), as a browser sends it again on a new connection."""
    try:
        return await client.get(path, **kwargs)
    except (httpx.ReadError, httpx.RemoteProtocolError):
        return await client.get(path, **kwargs)


async def concurrently(
    workers: int,
    requests: int,
    call: Callable[[int, int], Awaitable[None]],
    think: tuple[float, float] | None = None,
) -> None:
    """`workers` people at once; each waits `think` seconds (uniform) between requests,
    or none for back to back."""
    counter = iter(range(requests))
    pace = random.Random(11)

    async def worker(w: int) -> None:
        if think:
            await asyncio.sleep(pace.uniform(0, think[1]))
        for i in counter:
            await call(w, i)
            if think:
                await asyncio.sleep(pace.uniform(*think))

    await asyncio.gather(*(worker(w) for w in range(workers)))


async def first_visit_bytes(web_url: str, cookies: httpx.Cookies) -> tuple[int, int, list[str]]:
    """Compressed and plain bytes of the feed page and everything it loads but images."""
    async with httpx.AsyncClient(
        base_url=web_url, cookies=cookies, headers={"Accept-Encoding": "gzip, br"}
    ) as client:
        page = await client.get("/feed")
        assert page.status_code == 200, page.text[:300]
        wire, plain = page.num_bytes_downloaded, len(page.content)
        assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/[^"]+)"', page.text)
        for asset in assets:
            response = await client.get(asset)
            # A missing asset is a 500 (after which the server closes the connection), not
            # bytes: htmx comes from npm, which a worktree made for a comparison may lack.
            assert response.status_code == 200, (
                f"{asset}: {response.status_code}; are the web app's front-end libraries "
                "installed in the tree under test (`make web-assets`)?"
            )
            wire += response.num_bytes_downloaded
            plain += len(response.content)
    return wire, plain, assets


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--page", choices=("feed", "analytics"), default="feed")
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=500, help="distinct people signed in")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--events", type=int, default=1_000_000, help="analytics: events")
    parser.add_argument("--curators", type=int, default=15, help="analytics: at once")
    parser.add_argument("--page-requests", type=int, default=150, help="analytics: per line")
    parser.add_argument("--no-warm-up", dest="warm_up", action="store_false")
    parser.add_argument("--api-timeout", type=float, default=60.0, help="analytics: s")
    parser.add_argument(
        "--events-per-second",
        type=float,
        default=1.0,
        help="analytics: events (clicks, shares, enrollments, as seeded) counted while the "
        "pages are read (the year's average is 0.03 a second)",
    )
    parser.add_argument(
        "--ready-timeout",
        type=float,
        default=1800.0,
        help="analytics: seconds the metrics api may take to load its facts",
    )
    parser.add_argument(
        "--seed-only", action="store_true", help="analytics: seed (or resume) and stop"
    )
    args = parser.parse_args()
    if args.page == "analytics":
        return await analytics_bench(args)
    return await feed_bench(args)


async def feed_bench(args: argparse.Namespace) -> int:
    feed = _feed_bench()
    database = await ensure_seeded(feed, args.items, args.employees)
    rng = random.Random(7)
    people = [
        person_json(feed._employee(rng, index), f"Person {index}")
        for index in rng.sample(range(args.employees), args.people)
    ]
    workdir = Path(tempfile.mkdtemp(prefix="chorus-bench-web-"))
    suffix = ref("")
    content = ServiceProcess("content", "api", env={"CONTENT_DATABASE": database})
    share = ServiceProcess("share", "api", env={"SHARE_DATABASE": f"chorus_bench_web_{suffix}"})
    processes = [content.start(workdir), share.start(workdir)]
    try:
        for process in processes:
            process.wait_healthy(120)
        tenant = people[0]["tenant"]
        async with httpx.AsyncClient(base_url=share.url, timeout=30) as client:
            # Every person has joined: the page takes the member's path.
            for person in people:
                response = await client.post(
                    "/api/v1/advocates/me",
                    json={"accept": True},
                    headers=token(tenant, person["id"], groups=tuple(person["groups"])),
                )
                assert response.status_code in (200, 201), response.text
        web_process = ServiceProcess(
            "web",
            "api",
            env={
                "WEB_DATABASE": f"chorus_bench_web_{suffix}",
                "WEB_CONTENT_URL": content.url,
                "WEB_SHARE_URL": share.url,
                "WEB_DEV_PEOPLE": json.dumps(people),
            },
        )
        processes.append(web_process.start(workdir))
        web_process.wait_healthy(60)
        limits = httpx.Limits(max_connections=args.concurrency * 2)
        async with httpx.AsyncClient(base_url=web_process.url, timeout=30, limits=limits) as client:
            cookies = [await sign_in(client, people[0])]
            started = time.perf_counter()
            first = await client.get("/feed", cookies=cookies[0])
            first_ms = (time.perf_counter() - started) * 1000
            assert first.status_code == 200, first.text[:300]
            cookies += [await sign_in(client, p) for p in people[1:]]
            # The first visit's bytes, before the load: a page without its scripts fails now.
            wire, plain, assets = await first_visit_bytes(web_process.url, cookies[-1])
            cursors: dict[int, str] = {}
            latency: list[float] = []
            server: list[float] = []

            async def page(worker: int, i: int) -> None:
                person = (worker + i * args.concurrency) % len(people)
                roll = i % 10
                path = "/feed"
                if roll == 7:
                    path = "/feed?kind=job"
                elif roll in (8, 9) and person in cursors:
                    path = f"/feed?cursor={cursors[person]}"
                t0 = time.perf_counter()
                response = await get(client, path, cookies=cookies[person])
                latency.append((time.perf_counter() - t0) * 1000)
                server.append(server_ms(response))
                assert response.status_code == 200, (path, response.status_code)
                found = re.search(r'href="/feed\?cursor=([^"&]+)"', response.text)
                if found and path == "/feed":
                    cursors[person] = found.group(1)

            await concurrently(args.concurrency, min(200, args.requests), page)  # warm-up
            web: dict[str, tuple[list[float], list[float], float]] = {}
            for mode, think in MODES.items():
                latency.clear()
                server.clear()
                began = time.perf_counter()
                await concurrently(args.concurrency, args.requests, page, think)
                rate = args.requests / (time.perf_counter() - began)
                web[mode] = (list(server), list(latency), rate)

        api: dict[str, tuple[list[float], list[float]]] = {}
        async with (
            httpx.AsyncClient(base_url=content.url, timeout=30, limits=limits) as c,
            httpx.AsyncClient(base_url=share.url, timeout=30, limits=limits) as s,
        ):
            bearers = [token(tenant, p["id"], groups=tuple(p["groups"])) for p in people]
            api_feed: list[float] = []
            api_advocate: list[float] = []

            async def direct(worker: int, i: int) -> None:
                # The two calls the page makes, at once, as the page makes them.
                person = (worker + i * args.concurrency) % len(people)

                async def timed(call: Awaitable[httpx.Response], into: list[float]) -> None:
                    t0 = time.perf_counter()
                    response = await call
                    into.append((time.perf_counter() - t0) * 1000)
                    assert response.status_code == 200, response.text[:200]

                await asyncio.gather(
                    timed(
                        get(c, "/api/v1/feed", params={"limit": 12}, headers=bearers[person]),
                        api_feed,
                    ),
                    timed(get(s, "/api/v1/advocates/me", headers=bearers[person]), api_advocate),
                )

            await concurrently(args.concurrency, min(200, args.requests), direct)
            for mode, think in MODES.items():
                api_feed.clear()
                api_advocate.clear()
                await concurrently(args.concurrency, args.requests, direct, think)
                api[mode] = (list(api_feed), list(api_advocate))

        print(
            f"feed page, {args.items:,} items and {args.employees:,} employees, "
            f"{args.people} people signed in, {args.concurrency} at once, "
            f"{args.requests} requests per line"
        )
        print(header())
        print(row("first feed page after the web app starts", first=first_ms))
        for mode in MODES:
            server, latency, rate = web[mode]
            api_feed, api_advocate = api[mode]
            print(mode)
            print(row("  web /feed, server time (Server-Timing)", server))
            print(row("  web /feed, latency at the client", latency, per_second=rate))
            print(row("  beside it: content GET /api/v1/feed", api_feed))
            print(row("  beside it: share GET /api/v1/advocates/me", api_advocate))
        p99 = percentile(web[BROWSING][0], 99)
        print(
            f"target: p99 <= 150 ms server time with {args.concurrency} people browsing: "
            f"{'met' if p99 <= 150 else 'NOT met'} ({p99:.1f} ms)"
        )
        print(
            f"first visit to the feed, without images: {wire / 1024:.1f} kB compressed "
            f"({plain / 1024:.1f} kB uncompressed; the page and {', '.join(assets)}); "
            f"target <= 100 kB: {'met' if wire <= 100 * 1024 else 'NOT met'}"
        )
        return 0 if p99 <= 150 and wire <= 100 * 1024 else 1
    finally:
        for process in reversed(processes):
            process.stop()


# -- the program team's analytics page ------------------------------------------------------

ANALYTICS_TENANT = "bench-analytics"
TEAMS = 50
LIVE_URL = re.compile(r'hx-get="(/program/analytics/live[^"]*)"')
LEADERS = "team0"  # the program's leaders, named in share: the page counts them
KINDS = ("article", "internal", "job", "event")
YEAR = 365 * 86400.0


def _metrics_bench() -> Any:
    spec = importlib.util.spec_from_file_location("bench_metrics", REPO / "bench" / "metrics.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_metrics"] = module  # its dataclasses look themselves up there
    spec.loader.exec_module(module)
    return module


def _advocate(k: int, employees: int) -> tuple[str, str]:
    """The k-th enrolled advocate: an employee id and their team."""
    index = (k * 37) % employees
    return f"e{index}", f"team{index % TEAMS}"


def _share_of(j: int, advocates: int, employees: int, anchor: datetime) -> dict[str, Any]:
    """The j-th share, the same every time it is asked for (clicks name their share)."""
    rng = random.Random(j * 7919 + 1)
    employee, team = _advocate(rng.randrange(advocates), employees)
    return {
        "share_id": f"s{j}",
        "content_id": f"c{rng.randrange(2000)}",
        "employee_id": employee,
        "employee_groups": [team],
        "network": rng.choice(("linkedin", "linkedin", "x", "facebook", "xing")),
        "shared_at": anchor - timedelta(seconds=rng.uniform(0, YEAR)),
        "audience_size": rng.randrange(50, 3000),
        "campaign_id": f"campaign{rng.randrange(20)}" if rng.random() < 0.3 else None,
        "content_kind": rng.choice(KINDS),
    }


def analytics_event(m: Any, n: int, count: int, employees: int, anchor: datetime) -> Any:
    """Event n of `count`: 1 in 40 an advocate enrolling, 1 in 8 a share, the rest clicks,
    over the year before `anchor`. Deterministic, ids included: a resumed seed republishes
    some events and the worker counts each once."""
    advocates = max(1, count // 40)
    if n % 40 == 0:
        return _enrolled(n // 40, employees, anchor - timedelta(days=370), f"bench-enrolled-{n}")
    if n % 8 == 1:
        return _shared(_share_of(n // 8, advocates, employees, anchor), f"k{n:08d}", n)
    rng = random.Random(n)
    share = _share_of(rng.randrange(max(1, n // 8)), advocates, employees, anchor)
    observed = min(anchor, share["shared_at"] + timedelta(hours=rng.expovariate(1 / 12)))
    return _click(share, f"g{n}", observed, rng.random() < 0.6, event_id=f"bench-click-{n}")


def _enrolled(k: int, employees: int, at: datetime, event_id: str | None) -> Any:
    """The k-th advocate enrolling (the event id made up when None)."""
    employee, team = _advocate(k, employees)
    return AdvocateEnrolled.create(
        tenant_id=ANALYTICS_TENANT,
        subject=employee,
        event_id=event_id,
        time=at,
        data=AdvocateEnrolledData(
            employee_id=employee, employee_groups=[team], consent_at=at, networks=["linkedin"]
        ),
    )


def _shared(share: dict[str, Any], code: str, n: int | None) -> Any:
    """A share's event: event n of the seeded year, or a new one when None."""
    return PostShared.create(
        tenant_id=ANALYTICS_TENANT,
        subject=share["share_id"],
        event_id=None if n is None else f"bench-shared-{n}",
        time=share["shared_at"],
        data=PostSharedData(
            **share,
            short_code=code,
            tracked_url=f"https://go.example.com/l/{code}",
            method="intent",
        ),
    )


def _click(
    share: dict[str, Any], engagement: str, at: datetime, unique: bool, event_id: str | None
) -> Any:
    """A visitor's click on `share` (the event id made up when None)."""
    return EngagementObserved.create(
        tenant_id=ANALYTICS_TENANT,
        subject=share["share_id"],
        event_id=event_id,
        time=at,
        data=EngagementObservedData(
            engagement_id=engagement,
            share_id=share["share_id"],
            content_id=share["content_id"],
            employee_id=share["employee_id"],
            network=share["network"],
            kind="click",
            observed_at=at,
            source="redirect",
            unique=unique,
            campaign_id=share["campaign_id"],
            content_kind=share["content_kind"],
        ),
    )


async def ensure_analytics_seeded(
    events: int, employees: int, workdir: Path
) -> tuple[str, dict[str, Any]]:
    """A metrics database of its own, counted by a real metrics worker from Kafka and kept
    for the next run (a marker document says it is complete; it is never dropped). An
    interrupted seed resumes where its last acknowledged chunk ended."""
    m = _metrics_bench()
    database = f"chorus_bench_analytics_{events}_{employees}"
    group = f"bench-analytics-{events}-{employees}"
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL, tz_aware=True)
    try:
        bench = client[database]["bench"]
        done = await bench.find_one({"_id": "seed"})
        if done is not None:
            return database, done
        await m.ensure_topics(m.KAFKA, m.TOPICS, partitions=6, replication=1)
        plan = await bench.find_one({"_id": "plan"})
        if plan is None:
            await m.at_the_end(group)
            anchor = datetime.now(UTC).replace(microsecond=0)
            plan = {"_id": "plan", "anchor": anchor, "published": 0, "seconds": 0.0}
            await bench.insert_one(plan)
        anchor, first = plan["anchor"], plan["published"]
        print(f"seeding {events:,} events into {database} (from event {first:,})", flush=True)
        worker = ServiceProcess(
            "metrics", "worker", env={"METRICS_DATABASE": database, "METRICS_CONSUMER_GROUP": group}
        )
        worker.start(workdir)
        producer = m.AIOKafkaProducer(
            bootstrap_servers=m.KAFKA,
            acks="all",
            enable_idempotence=True,
            linger_ms=20,
            max_batch_size=256 * 1024,
        )
        await producer.start()
        started = time.monotonic()
        last = started
        try:
            chunk = 5000
            for start in range(first, events, chunk):
                sent = []
                for n in range(start, min(events, start + chunk)):
                    e = analytics_event(m, n, events, employees, anchor)
                    key = e.partition_key().encode()
                    sent.append(await producer.send(e.topic, e.to_json(), key=key))
                await asyncio.gather(*sent)
                published = min(events, start + chunk)
                if time.monotonic() - last > 30 or published == events:
                    last = time.monotonic()
                    spent = plan["seconds"] + last - started
                    await bench.update_one(
                        {"_id": "plan"}, {"$set": {"published": published, "seconds": spent}}
                    )
                    print(
                        f"  {spent:.0f} s: published {published:,}, "
                        f"not yet counted {await m.lag(group):,}",
                        flush=True,
                    )
            while (behind := await m.lag(group)) > 0:
                await asyncio.sleep(5)
                if time.monotonic() - last > 30:
                    last = time.monotonic()
                    print(f"  {plan['seconds'] + last - started:.0f} s: not yet counted {behind:,}")
        finally:
            await producer.stop()
            worker.stop()
        spent = plan["seconds"] + time.monotonic() - started
        done = {"_id": "seed", "events": events, "employees": employees, "seconds": spent}
        await bench.insert_one(done)
        print(
            f"seeded {events:,} events (published to Kafka, counted by a metrics worker) "
            f"in {spent:.0f} s",
            flush=True,
        )
        return database, done
    finally:
        await client.close()


def page_calls(view: Any) -> list[tuple[str, str, dict[str, Any]]]:
    """The API calls `/program/analytics` makes for a view: the leaders' group from share,
    then metrics' dashboard with it; rewards' leaderboard meanwhile."""
    dashboard = {
        **view.params(),
        "leaders_group": LEADERS,
        "granularity": view.granularity,
        "limit": 10,
        "advocate_limit": 50,
    }
    return [
        ("share", "/api/v1/settings/leaders", {}),
        ("metrics", "/api/v1/dashboard", dashboard),
        ("rewards", "/api/v1/leaderboards", {"period": "all", "scope": "tenant", "limit": 200}),
    ]


async def live_events(per_second: float, events: int, employees: int, sent: Counter[str]) -> None:
    """What the program does now, `per_second` events a second, in the seeded year's mix
    and order (an enrollment first, then a share, then clicks), until cancelled: advocates
    enrolling, new shares (each changes the people and names the figures keep), visitors
    clicking the year's shares. The kept database grows by them."""
    if per_second <= 0:
        return
    m = _metrics_bench()
    producer = m.AIOKafkaProducer(bootstrap_servers=m.KAFKA, acks="all", linger_ms=5)
    await producer.start()
    rng = random.Random()
    advocates = max(1, events // 40)
    n = 0
    try:
        while True:
            now, new = datetime.now(UTC), f"{rng.getrandbits(64):x}"
            if n % 40 == 0:
                kind, event = (
                    "enrollments",
                    _enrolled(rng.randrange(employees), employees, now, None),
                )
            elif n % 8 == 1:
                share = _share_of(rng.randrange(events // 8), advocates, employees, now)
                share.update(share_id=f"live-{new}", shared_at=now)
                kind, event = "shares", _shared(share, f"live{new}", None)
            else:
                share = _share_of(rng.randrange(events // 8), advocates, employees, now)
                kind, event = "clicks", _click(share, f"live-{new}", now, rng.random() < 0.6, None)
            await producer.send_and_wait(
                event.topic, event.to_json(), key=event.partition_key().encode()
            )
            sent[kind] += 1
            n += 1
            await asyncio.sleep(rng.expovariate(per_second))
    finally:
        await producer.stop()


async def gauged(worker: ServiceProcess, timeout: float) -> None:
    """Until the worker's first enrolled-advocates gauge is out (its scan is over)."""
    deadline = time.monotonic() + timeout
    async with httpx.AsyncClient(base_url=worker.url, timeout=10) as http:
        while time.monotonic() < deadline:
            exposed = await http.get("/metrics")
            if f'chorus_metrics_enrolled_advocates{{tenant="{ANALYTICS_TENANT}"}}' in exposed.text:
                return
            await asyncio.sleep(1)
    raise TimeoutError("the metrics worker's first gauges did not come out")


def _rss_mb(process: ServiceProcess) -> float:
    """Resident memory of a service process and its children (the api under its runner)."""
    assert process.proc is not None
    total = 0
    pids = [process.proc.pid]
    while pids:
        pid = pids.pop()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
        except OSError:
            continue
        total += next(
            (int(line.split()[1]) for line in status.splitlines() if line.startswith("VmRSS:")), 0
        )
        pids.extend(int(child) for child in children)
    return total / 1024


async def analytics_bench(args: argparse.Namespace) -> int:
    from web.domain.analytics import view_of

    workdir = Path(tempfile.mkdtemp(prefix="chorus-bench-analytics-"))
    database, seed = await ensure_analytics_seeded(args.events, args.employees, workdir)
    if args.seed_only:
        return 0
    curators = [
        {
            "id": f"curator{i}",
            "name": f"Curator {i}",
            "tenant": ANALYTICS_TENANT,
            "roles": ["curator"],
        }
        for i in range(args.curators)
    ]
    suffix = ref("")
    metrics = ServiceProcess("metrics", "api", env={"METRICS_DATABASE": database})
    rewards = ServiceProcess(
        "rewards", "api", env={"REWARDS_DATABASE": f"chorus_bench_analytics_rewards_{suffix}"}
    )
    share = ServiceProcess(
        "share", "api", env={"SHARE_DATABASE": f"chorus_bench_analytics_share_{suffix}"}
    )
    # A worker counts the clicks visitors keep making while the curators look: each new fact
    # changes what the figures must say, so answers kept from before no longer serve.
    worker = ServiceProcess(
        "metrics",
        "worker",
        env={
            "METRICS_DATABASE": database,
            "METRICS_CONSUMER_GROUP": f"bench-analytics-{args.events}-{args.employees}",
            # The enrolled-advocates gauge reads every advocate fact each minute: with
            # MongoDB through the (tenant, type) index, on FerretDB by scanning all million
            # facts, which would keep it busy throughout the run. It runs once at the start:
            # the measurements wait for it (FerretDB would go on scanning for minutes).
            "METRICS_GAUGE_INTERVAL_SECONDS": "3600",
        },
    )
    started = time.monotonic()
    processes = [
        metrics.start(workdir),
        rewards.start(workdir),
        share.start(workdir),
        worker.start(workdir),
    ]
    try:
        # The metrics api loads every fact before it says it is ready.
        metrics.wait_healthy(args.ready_timeout)
        ready_s = time.monotonic() - started
        ready_mb = _rss_mb(metrics)
        rewards.wait_healthy(120)
        share.wait_healthy(120)
        worker.wait_healthy(120)
        await gauged(worker, args.ready_timeout)
        admin = token(ANALYTICS_TENANT, "admin", roles=("admin",))
        async with httpx.AsyncClient(base_url=share.url, timeout=30) as http:
            named = await http.put(
                "/api/v1/settings/leaders", json={"leaders_group": LEADERS}, headers=admin
            )
            assert named.status_code == 200, named.text
        web_process = ServiceProcess(
            "web",
            "api",
            env={
                "WEB_DATABASE": f"chorus_bench_analytics_web_{suffix}",
                "WEB_METRICS_URL": metrics.url,
                "WEB_REWARDS_URL": rewards.url,
                "WEB_SHARE_URL": share.url,
                "WEB_DEV_PEOPLE": json.dumps(curators),
            },
        )
        processes.append(web_process.start(workdir))
        web_process.wait_healthy(60)
        today = datetime.now(UTC).date()
        # Most visits are the default view (the last 30 days); 3 in 10 a team's last 90 days.
        views = {"default (last 30 days)": "", "a team, last 90 days": "?preset=90d&group="}

        def address(i: int) -> tuple[str, str]:
            if i % 10 < 7:
                return "default (last 30 days)", "/program/analytics"
            return "a team, last 90 days", f"/program/analytics?preset=90d&group=team{i % TEAMS}"

        async with httpx.AsyncClient(base_url=metrics.url, timeout=args.api_timeout) as mc:
            # The metrics call the page makes for the default view, alone, before anything else
            # runs: what it costs without company, with nothing kept yet.
            bearer = token(ANALYTICS_TENANT, curators[0]["id"], roles=("curator",))
            alone: list[tuple[str, float | None]] = []
            for service, name, params in page_calls(view_of(today)):
                if service != "metrics":
                    continue
                t0 = time.perf_counter()
                try:
                    await mc.get(name.split(" ")[0], params=params, headers=bearer)
                    alone.append((name, (time.perf_counter() - t0) * 1000))
                except httpx.TimeoutException:
                    alone.append((name, None))
        limits = httpx.Limits(max_connections=args.curators * 2)
        live: Counter[str] = Counter()
        web: dict[str, tuple[dict[str, list[float]], list[float], float]] = {}
        partial: dict[str, int] = {}
        polled: dict[str, list[float]] = {}
        async with httpx.AsyncClient(
            base_url=web_process.url, timeout=120, limits=limits
        ) as client:
            cookies = [await sign_in(client, curators[0])]
            started = time.perf_counter()
            first = await client.get("/program/analytics", cookies=cookies[0])
            first_ms = (time.perf_counter() - started) * 1000
            first_server = server_ms(first)
            assert first.status_code == 200, first.text[:300]
            cookies += [await sign_in(client, c) for c in curators[1:]]
            server: dict[str, list[float]] = {name: [] for name in views}
            latency: list[float] = []
            # A metrics call slower than the web's backend timeout (2 s) leaves its part of
            # the page "unavailable": such pages are counted, their time is not the answer's.
            degraded = {"n": int('class="unavailable"' in first.text)}
            # While a curator reads a page, its headline figures poll for news as htmx does
            # (every WEB_ANALYTICS_INTERVAL_SECONDS, 1 s), with what the page shows.
            reading: dict[int, str] = {}
            polls: list[float] = []

            def follow(worker: int, response: httpx.Response) -> None:
                found = LIVE_URL.search(response.text)
                if found:
                    reading[worker] = html.unescape(found.group(1))

            async def page(worker: int, i: int) -> None:
                name, path = address(i)
                t0 = time.perf_counter()
                response = await client.get(path, cookies=cookies[worker])
                latency.append((time.perf_counter() - t0) * 1000)
                assert response.status_code == 200, (path, response.status_code)
                server[name].append(server_ms(response))
                degraded["n"] += 'class="unavailable"' in response.text
                follow(worker, response)

            async def poll(worker: int) -> None:
                while True:
                    await asyncio.sleep(1.0)
                    if worker not in reading:
                        continue
                    response = await client.get(
                        reading[worker], cookies=cookies[worker], headers={"HX-Request": "true"}
                    )
                    assert response.status_code in (200, 204), response.status_code
                    polls.append(server_ms(response))
                    follow(worker, response)

            if args.warm_up:
                await concurrently(args.curators, args.curators, page)
            degraded["first"] = degraded["n"]
            for mode, think in MODES.items():
                degraded["n"] = 0
                latency.clear()
                polls.clear()
                reading.clear()
                for values in server.values():
                    values.clear()
                began = time.perf_counter()
                background = [
                    asyncio.create_task(
                        live_events(args.events_per_second, args.events, args.employees, live)
                    ),
                    # Back to back, nobody reads: no page stays open to poll.
                    *(asyncio.create_task(poll(w)) for w in range(args.curators) if think),
                ]
                try:
                    await concurrently(args.curators, args.page_requests, page, think)
                finally:
                    for task in background:
                        task.cancel()
                    await asyncio.gather(*background, return_exceptions=True)
                rate = args.page_requests / (time.perf_counter() - began)
                web[mode] = ({k: list(v) for k, v in server.items()}, list(latency), rate)
                polled[mode] = list(polls)
                partial[mode] = degraded["n"]

        print()
        print(
            f"analytics page, one tenant: {args.employees:,} employees, {seed['events']:,} events "
            f"over a year (counted by a metrics worker; seeded in {seed['seconds']:.0f} s), "
            f"{args.curators} curators at once, {args.page_requests} requests per line"
        )
        print(
            f"metrics api ready {ready_s:.0f} s after its start, holding the facts in memory "
            f"({ready_mb:.0f} MB resident); while the pages were read, "
            f"{args.events_per_second:g} events a second came in ("
            + ", ".join(f"{n:,} {kind}" for kind, n in sorted(live.items()))
            + ", counted by a metrics worker and followed by the api)"
        )
        print(header())
        print(
            row("first analytics page after the web app starts", first=first_ms)
            + f"   (server time {first_server:.1f} ms"
            + f"{', a part unavailable' if degraded['first'] else ''})"
        )
        for mode in MODES:
            server_by_view, latency, rate = web[mode]
            print(f"{mode} ({partial[mode]} pages with a part unavailable)")
            everything = [v for values in server_by_view.values() for v in values]
            print(row("  web /program/analytics, server time", everything))
            for name, values in server_by_view.items():
                if values:
                    print(row(f"    {name}", values))
            print(row("  web /program/analytics, latency at the client", latency, per_second=rate))
            if polled[mode]:
                print(row("  web /program/analytics/live (the open pages' polls)", polled[mode]))
        print(
            "the metrics call the page makes (default view), alone, first after the load: "
            + ", ".join(
                f"{name} " + (f"> {args.api_timeout:g} s" if ms is None else f"{ms:.0f} ms")
                for name, ms in alone
            )
        )
        many = httpx.Limits(max_connections=args.curators * 16)
        async with (
            httpx.AsyncClient(base_url=metrics.url, timeout=args.api_timeout, limits=many) as mc,
            httpx.AsyncClient(base_url=rewards.url, timeout=args.api_timeout, limits=many) as rc,
            httpx.AsyncClient(base_url=share.url, timeout=args.api_timeout, limits=many) as sc,
        ):
            clients = {"metrics": mc, "rewards": rc, "share": sc}
            bearers = [token(ANALYTICS_TENANT, c["id"], roles=("curator",)) for c in curators]
            calls: dict[str, list[float]] = {}
            timeouts = {"n": 0}

            async def timed(worker: int, service: str, name: str, params: dict[str, Any]) -> None:
                http = clients[service]
                t0 = time.perf_counter()
                try:
                    response = await http.get(
                        name.split(" ")[0], params=params, headers=bearers[worker]
                    )
                except httpx.TimeoutException:
                    timeouts["n"] += 1
                    return
                calls.setdefault(f"{service} GET {name}", []).append(
                    (time.perf_counter() - t0) * 1000
                )
                assert response.status_code == 200, (name, response.text[:200])

            def show(title: str) -> None:
                print(f"{title}; {timeouts['n']} calls not answered within {args.api_timeout:g} s")
                for name, values in sorted(calls.items(), key=lambda kv: -percentile(kv[1], 99)):
                    print(row(f"    {name}", values))

            async def direct(worker: int, i: int) -> None:
                # The calls the page makes for the same view, as the page makes them.
                _, path = address(i)
                group = f"team{i % TEAMS}" if "group=" in path else None
                view = view_of(today, "90d" if group else None, group=group)
                leaders, dashboard, leaderboard = page_calls(view)

                async def figures() -> None:
                    await timed(worker, *leaders)
                    await timed(worker, *dashboard)

                t0 = time.perf_counter()
                await asyncio.gather(figures(), timed(worker, *leaderboard))
                calls.setdefault("all of them, as the page makes them", []).append(
                    (time.perf_counter() - t0) * 1000
                )

            if args.warm_up:
                await concurrently(args.curators, args.curators, direct)
            for mode, think in MODES.items():
                calls.clear()
                timeouts["n"] = 0
                await concurrently(args.curators, args.page_requests, direct, think)
                show(f"beside it, the same calls as {args.curators} curators' pages, {mode}")

        p99 = percentile([v for values in web[BROWSING][0].values() for v in values], 99)
        met = p99 <= 300 and not partial[BROWSING]
        print(
            f"target: p99 <= 300 ms server time with {args.curators} curators browsing, "
            f"every page whole: {'met' if met else 'NOT met'} ({p99:.1f} ms, "
            f"{partial[BROWSING]} pages with a part unavailable)"
        )
        return 0 if met else 1
    finally:
        for process in reversed(processes):
            process.stop()


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
