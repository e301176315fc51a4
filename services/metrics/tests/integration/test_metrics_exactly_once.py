"""Exactly once under SIGKILL: the worker is killed 10 times while it counts 50,000 events,
and the figures still equal the independent computation."""

from __future__ import annotations

import asyncio
import random
import signal
from collections import Counter

import httpx
import pytest
from metrics_program import expected, generate, per, publish, start_metrics, totals, wait_for
from pymongo import AsyncMongoClient

from support import MONGODB_URL, ServiceProcess, ref, token

KILLS = 10


# 50,000 events through FerretDB on 2 cores take minutes; the default 300 s is too tight.
@pytest.mark.soak
@pytest.mark.timeout(900)
async def test_figures_are_exact_after_ten_kills_during_50000_events(tmp_path) -> None:
    suffix = ref("")
    program = generate(ref("kill"), shares=6_900, advocates=300, items=40, seed=11)
    assert len(program.events) >= 50_000
    processes = await start_metrics(tmp_path, suffix)
    api, worker = processes["api"], processes["worker"]
    rng = random.Random(5)
    try:
        publishing = asyncio.create_task(publish(program.events))
        for _ in range(KILLS):
            # Let it count for a random while, then kill it where it stands.
            await asyncio.sleep(rng.uniform(0.5, 3.0))
            assert worker.proc is not None and worker.proc.poll() is None, worker.log_tail()
            worker.stop(signal.SIGKILL)
            worker = ServiceProcess("metrics", "worker", env=worker.env).start(tmp_path)
            await asyncio.to_thread(worker.wait_healthy)
        await publishing

        tenant, curator = program.tenant, token(program.tenant, "cur", roles=("curator",))
        async with httpx.AsyncClient(timeout=240) as http:

            async def counted() -> dict[str, int]:
                response = await http.get(f"{api.url}/api/v1/summary", headers=curator)
                return response.json()["figures"]

            want = totals(program)
            await wait_for(counted, lambda f: all(f.get(k) == v for k, v in want.items()), 240)
            start, end = program.first_day, program.last_day
            params = {"start": str(start), "end": str(end)}
            body = (
                await http.get(f"{api.url}/api/v1/figures", headers=curator, params=params)
            ).json()
            figures, independent = body["figures"], expected(program, start, end)
            for name in (*want, "active_advocates", "enrolled_advocates", "engagements"):
                assert figures[name] == independent.get(name, 0), name
            for dimension in ("advocate", "network"):
                rows = (
                    await http.get(
                        f"{api.url}/api/v1/breakdown/{dimension}",
                        headers=curator,
                        params={**params, "limit": 1000},
                    )
                ).json()["items"]
                got = {r[dimension]: (r["shares"], r["clicks"], r["reach"]) for r in rows}
                assert got == {
                    key: (c["shares"], c["clicks"], c["reach"])
                    for key, c in per(program, dimension, start, end).items()
                }

        # One fact per event, none twice: other tests' rewards workers may add points and
        # badges for our shares, so those two are left out of the count.
        ours = Counter(e.event_name for e in program.events)
        del ours["badge-earned"]
        client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
        try:
            facts = client[f"chorus_metrics_{suffix}"]["facts"]
            for name, count in ours.items():
                assert await facts.count_documents({"tenant": tenant, "type": name}) == count, name
        finally:
            await client.close()
    finally:
        worker.stop()
        api.stop()
