"""The api holds the facts in memory: one started while events are being counted loads
the stored facts and the fact log, which overlap, and counts every fact once; its figures
equal those of an api that followed from the start, and the independent computation. The
settings and goals each keeps follow a change made through the other."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from metrics_program import expected, generate, per, publish, start_metrics, totals, wait_for
from pymongo import AsyncMongoClient

from metrics.adapters.mongo import MetricsRepository
from metrics.domain.facts import fact_id
from support import MONGODB_URL, ServiceProcess, ref, token


@pytest.mark.timeout(600)
async def test_an_api_started_midway_counts_each_fact_once(tmp_path) -> None:
    suffix = ref("")
    program = generate(ref("memory"), shares=400, advocates=40, items=8, seed=5)
    processes = await start_metrics(tmp_path, suffix)
    api = processes["api"]
    later: ServiceProcess | None = None
    curator = token(program.tenant, "cur", roles=("curator",))
    start, end = program.first_day, program.last_day
    params = {"start": str(start), "end": str(end)}
    try:
        async with httpx.AsyncClient(timeout=120) as http:

            async def figures(url: str) -> dict[str, Any]:
                response = await http.get(f"{url}/api/v1/figures", headers=curator, params=params)
                assert response.status_code == 200, response.text
                return response.json()["figures"]

            half = len(program.events) // 2
            await publish(program.events[:half])
            # Started while the first half is stored and the second is on its way.
            later = ServiceProcess("metrics", "api", env=dict(api.env))
            later.start(tmp_path)
            await publish(program.events[half:])
            await asyncio.to_thread(later.wait_healthy, 120)

            want = totals(program)

            def complete(found: dict[str, Any]) -> bool:
                return all(found.get(name) == value for name, value in want.items())

            first = await wait_for(lambda: figures(api.url), complete, 240)
            second = await wait_for(lambda: figures(later.url), complete, 240)
            independent = expected(program, start, end)
            for name in (*want, "active_advocates", "enrolled_advocates", "engagements"):
                assert first[name] == second[name] == independent.get(name, 0), name
            for dimension in ("advocate", "network"):
                tables = []
                for url in (api.url, later.url):
                    rows = (
                        await http.get(
                            f"{url}/api/v1/breakdown/{dimension}",
                            headers=curator,
                            params={**params, "limit": 1000},
                        )
                    ).json()["items"]
                    tables.append({r[dimension]: (r["shares"], r["clicks"]) for r in rows})
                assert (
                    tables[0]
                    == tables[1]
                    == {
                        key: (c["shares"], c["clicks"])
                        for key, c in per(program, dimension, start, end).items()
                    }
                )

            # Settings and goals are kept until they change: a change made through one api
            # is what the other answers with next.
            admin = token(program.tenant, "boss", roles=("admin",))
            for currency in ("EUR", "CHF"):
                saved = await http.put(
                    f"{later.url}/api/v1/settings",
                    headers=admin,
                    json={"prices": {"currency": currency, "cpm": {"linkedin": 10.0}}},
                )
                assert saved.status_code == 200, saved.text
                emv = await http.get(f"{api.url}/api/v1/emv", headers=curator, params=params)
                assert emv.json()["currency"] == currency
            goal = {"name": "Reach", "metric": "reach", "target": 10, "start": str(start)}
            put = await http.put(
                f"{api.url}/api/v1/goals/reach", headers=curator, json={**goal, "end": str(end)}
            )
            assert put.status_code == 200, put.text
            goals = await http.get(f"{later.url}/api/v1/goals", headers=curator)
            assert [g["id"] for g in goals.json()["items"]] == ["reach"]
            gone = await http.delete(f"{later.url}/api/v1/goals/reach", headers=curator)
            assert gone.status_code == 204
            goals = await http.get(f"{api.url}/api/v1/goals", headers=curator)
            assert goals.json()["items"] == []

        # Each batch was logged before its facts were stored.
        client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
        try:
            entries = await MetricsRepository(client[f"chorus_metrics_{suffix}"]).log_entries()
            logged = {fact["_id"] for entry in entries for fact in entry.facts}
            assert {fact_id(event) for event in program.events} <= logged
        finally:
            await client.close()
    finally:
        for process in (*processes.values(), later):
            if process is not None:
                process.stop()
