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

Only 127.0.0.1 is contacted (or MONGODB_URL / KAFKA_BOOTSTRAP_SERVERS when set).
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
from pymongo import AsyncMongoClient

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

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


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def row(name: str, values: list[float]) -> str:
    return (
        f"{name:<44} {len(values):>6} {statistics.median(values):>9.1f} "
        f"{pct(values, 0.99):>9.1f} {max(values):>9.1f}"
    )


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
        wire, plain = page.num_bytes_downloaded, len(page.content)
        assets = re.findall(r'<(?:script|link)[^>]+(?:src|href)="(/[^"]+)"', page.text)
        for asset in assets:
            response = await client.get(asset)
            wire += response.num_bytes_downloaded
            plain += len(response.content)
    return wire, plain, assets


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=10_000)
    parser.add_argument("--employees", type=int, default=100_000)
    parser.add_argument("--people", type=int, default=500, help="distinct people signed in")
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument("--requests", type=int, default=2000)
    args = parser.parse_args()

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
                response = await client.get(path, cookies=cookies[person])
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
            wire, plain, assets = await first_visit_bytes(web_process.url, cookies[-1])

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
                        c.get("/api/v1/feed", params={"limit": 12}, headers=bearers[person]),
                        api_feed,
                    ),
                    timed(s.get("/api/v1/advocates/me", headers=bearers[person]), api_advocate),
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
        print(f"{'':<52} {'n':>6} {'p50 ms':>9} {'p99 ms':>9} {'max ms':>9}")
        print(f"{'first feed page after the web app starts':<52} {1:>6} {first_ms:>9.1f}")
        for mode in MODES:
            server, latency, rate = web[mode]
            api_feed, api_advocate = api[mode]
            print(f"{mode} ({rate:.0f} pages/s)")
            print(row("  web /feed, server time (Server-Timing)", server))
            print(row("  web /feed, latency at the client", latency))
            print(row("  beside it: content GET /api/v1/feed", api_feed))
            print(row("  beside it: share GET /api/v1/advocates/me", api_advocate))
        p99 = pct(web[BROWSING][0], 0.99)
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


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
