"""Leaderboard latency: "top 50 plus my rank" with 1,000,000 employees in one tenant.

Seeds one tenant's standings in a database of its own on the MongoDB-wire server (once:
a later run finds them there and reuses them), starts `python -m rewards api` on it, and
times, in the same run:

- baseline: the same answer straight from the database: the top 50 by an indexed sort, and
  the caller's rank by counting the employees above them;
- leaderboard: `GET /api/v1/leaderboards?limit=50` over HTTP for random employees, served
  from the api's in-memory snapshot, loaded before the api reports ready (the time to
  ready and the first request after it are printed apart).

    uv run python bench/leaderboard.py [--employees 1000000] [--requests 500]

Only 127.0.0.1 is contacted (or MONGODB_URL when set).
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from pymongo import DESCENDING, AsyncMongoClient

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests")]

from stats import header, row  # noqa: E402

from support import MONGODB_URL, ServiceProcess, token  # noqa: E402

TENANT = "bench-leaderboard"
DEPARTMENTS = [f"dept-{i}" for i in range(20)]
BATCH = 20_000


def _database(employees: int) -> str:
    return f"chorus_rewards_bench_leaderboard_{employees}"


async def seed(db: Any, employees: int) -> None:
    standings = db["standings"]
    have = await standings.estimated_document_count()
    if have >= employees:
        print(f"reusing {have:,} seeded employees in {db.name}")
        return
    rng = random.Random(7)
    began = time.perf_counter()
    await standings.create_index([("tenant", 1), ("earned", DESCENDING)])
    for start in range(have, employees, BATCH):
        docs = [
            {
                "_id": f"{TENANT}:e{i}",
                "tenant": TENANT,
                "employee_id": f"e{i}",
                "earned": int(rng.paretovariate(1.2) * 10),
                "department": rng.choice(DEPARTMENTS),
            }
            for i in range(start, min(start + BATCH, employees))
        ]
        await standings.insert_many(docs, ordered=False)
    print(f"seeded {employees - have:,} employees in {time.perf_counter() - began:.0f} s")


def line(name: str, samples: list[float], seconds: float, first: float | None = None) -> str:
    """A row of the benches' table: `samples` and `first` in seconds, over `seconds`."""
    return row(
        name,
        [sample * 1000 for sample in samples],
        first=None if first is None else first * 1000,
        per_second=len(samples) / seconds,
        decimals=2,
    )


async def baseline(db: Any, employees: int, budget: float) -> list[float]:
    """Top 50 and my rank from the database, for as many callers as fit in `budget` s."""
    standings, rng, samples = db["standings"], random.Random(1), []
    began = time.perf_counter()
    while time.perf_counter() - began < budget and len(samples) < 50:
        me = f"{TENANT}:e{rng.randrange(employees)}"
        start = time.perf_counter()
        top = standings.find({"tenant": TENANT}).sort("earned", DESCENDING).limit(50)
        _ = [doc async for doc in top]
        mine = await standings.find_one({"_id": me})
        above = {"tenant": TENANT, "earned": {"$gt": (mine or {}).get("earned", 0)}}
        await standings.count_documents(above)
        samples.append(time.perf_counter() - start)
    return samples


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--employees", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--baseline-seconds", type=float, default=30.0)
    args = parser.parse_args()

    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    db = client[_database(args.employees)]
    await seed(db, args.employees)

    started = time.perf_counter()
    api = ServiceProcess(
        "rewards",
        "api",
        env={
            "REWARDS_DATABASE": db.name,
            # The bench measures serving from a snapshot, not reloading one mid-run.
            "REWARDS_LEADERBOARD_REFRESH_SECONDS": "3600",
        },
    ).start(Path(tempfile.mkdtemp()))
    try:
        # The api loads every tenant's snapshot before it reports ready.
        await asyncio.to_thread(api.wait_healthy, 1800)
        print(f"api ready {time.perf_counter() - started:.1f} s after its start")
        url = f"{api.url}/api/v1/leaderboards"
        rng = random.Random(2)
        async with httpx.AsyncClient(timeout=600) as http:
            began = time.perf_counter()
            first = await http.get(url, headers=token(TENANT, "e0"), params={"limit": 50})
            first_seconds = time.perf_counter() - began
            assert first.status_code == 200, first.text
            print(f"{first.json()['size']:,} employees on the board")
            samples = []
            began = time.perf_counter()
            for _ in range(args.requests):
                caller = token(TENANT, f"e{rng.randrange(args.employees)}")
                start = time.perf_counter()
                answer = await http.get(url, headers=caller, params={"limit": 50})
                samples.append(time.perf_counter() - start)
                assert answer.status_code == 200 and answer.json()["me"] is not None
            spent = time.perf_counter() - began
    finally:
        api.stop()
    began = time.perf_counter()
    plain = await baseline(db, args.employees, args.baseline_seconds)
    plain_spent = time.perf_counter() - began
    print(f"\n{header()}")
    print(line("leaderboard over HTTP (top 50 + my rank)", samples, spent, first_seconds))
    print(line("baseline in the database (sort + count)", plain, plain_spent))
    await client.close()


if __name__ == "__main__":
    asyncio.run(main())
