"""Retention against the real servers: once a tenant keeps engagement in detail for 30
days, the worker's job replaces the older engagement facts by roll-ups; no engagement
detail older than that is left, every figure stays, for the api that followed the job and
for one that loads after it; an engagement event older than the retention, sent again or
for the first time, is not counted; the setting is refused out of its bounds, naming the
field."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from metrics_program import ENGAGEMENT_FIELDS, generate, publish, start_metrics, totals, wait_for
from pymongo import AsyncMongoClient

from contracts import EngagementObserved
from metrics.domain import retention
from support import MONGODB_URL, ServiceProcess, ref, token

DAYS = 30


async def _figures(http: httpx.AsyncClient, api: str, tenant: str, last: date) -> dict[str, Any]:
    """Every figure the program team reads, over the whole program and parts of it."""
    curator = token(tenant, "cur", roles=("curator",))
    asked: list[tuple[str, dict[str, str]]] = [
        ("/figures", {}),
        ("/funnel", {}),
        ("/emv", {}),
        *((f"/breakdown/{d}", {}) for d in ("content", "advocate", "group", "network")),
        ("/breakdown/campaign", {}),
        *(("/series", {"granularity": g}) for g in ("day", "week", "month")),
    ]
    out: dict[str, Any] = {}
    for start, end in (
        (last - timedelta(days=55), last),
        (last - timedelta(days=55), last - timedelta(days=40)),
        (last - timedelta(days=6), last),
    ):
        for path, more in asked:
            params = {"start": str(start), "end": str(end), **more}
            response = await http.get(f"{api}/api/v1{path}", headers=curator, params=params)
            assert response.status_code == 200, (path, response.text)
            out[f"{path} {more} {start} {end}"] = response.json()
    # The right moment is read from the database, by hour in the audience's time zone.
    response = await http.get(f"{api}/api/v1/moments", headers=curator, params={"weeks": 10})
    assert response.status_code == 200, response.text
    out["moments"] = response.json()
    return out


async def _engagement(database: str, tenant: str) -> tuple[list[str], int]:
    """The days of the tenant's engagement detail (one per fact), and how many roll-ups."""
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        facts = client[database]["facts"]
        match = {"tenant": tenant, "type": retention.ENGAGEMENT}
        detail = {**match, retention.ROLLED: {"$exists": False}}
        days = [doc["day"] async for doc in facts.find(detail, {"day": 1})]
        rolled = await facts.count_documents({**match, retention.ROLLED: {"$exists": True}})
        return days, rolled
    finally:
        await client.close()


@pytest.mark.timeout(900)
async def test_old_engagement_detail_is_rolled_up_and_every_figure_stays(tmp_path) -> None:
    suffix = ref("")
    database = f"chorus_metrics_{suffix}"
    processes = await start_metrics(
        tmp_path, suffix, more_env={"METRICS_RETENTION_INTERVAL_SECONDS": "2"}
    )
    later: ServiceProcess | None = None
    try:
        program = generate(ref("ret"), days=56, advocates=20, shares=300)
        await publish(program.events)
        api = processes["api"].url
        tenant = program.tenant
        admin = token(tenant, "boss", roles=("admin",))
        async with httpx.AsyncClient(timeout=240) as http:
            want = totals(program)

            async def counted() -> dict[str, int]:
                response = await http.get(f"{api}/api/v1/summary", headers=token(tenant))
                return response.json()["figures"]

            await wait_for(counted, lambda f: all(f.get(k) == v for k, v in want.items()))
            before = await _figures(http, api, tenant, program.last_day)
            detail, rolled = await _engagement(database, tenant)
            limit = retention.rolled_before(datetime.now(UTC).date(), DAYS).isoformat()
            old = [day for day in detail if day < limit]
            assert old and not rolled

            for wrong in (retention.MIN_DAYS - 1, retention.MAX_DAYS + 1):
                refused = await http.put(
                    f"{api}/api/v1/settings", headers=admin, json={"detail_retention_days": wrong}
                )
                assert refused.status_code == 422, refused.text
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert "detail_retention_days" in refused.text
            saved = await http.put(
                f"{api}/api/v1/settings", headers=admin, json={"detail_retention_days": DAYS}
            )
            assert saved.status_code == 200, saved.text
            got = await http.get(f"{api}/api/v1/settings", headers=admin)
            assert got.json()["detail_retention_days"] == DAYS

            async def rolled_up() -> tuple[int, int]:
                detail, rolled = await _engagement(database, tenant)
                return len([day for day in detail if day < limit]), rolled

            await wait_for(rolled_up, lambda r: r[0] == 0 and r[1] > 0)
            detail, rolled = await _engagement(database, tenant)
            assert rolled < len(old), "a roll-up sums several facts"
            assert [day for day in detail if day >= limit], "recent detail is kept"

            # The api that followed the job, and one that loads the facts after it.
            assert await _figures(http, api, tenant, program.last_day) == before
            env = {"METRICS_DATABASE": database, "METRICS_CONSUMER_GROUP": f"metrics-{suffix}"}
            (tmp_path / "later").mkdir()
            later = ServiceProcess("metrics", "api", env=env).start(tmp_path / "later")
            await asyncio.to_thread(later.wait_healthy)
            assert await _figures(http, later.url, tenant, program.last_day) == before

            # An old engagement sent again (a redelivery) or for the first time (a new id)
            # is not counted: its fact may have been rolled up. A recent new one counts.
            # One advocate's events: one partition, in order.
            engagements = [e for e in program.events if isinstance(e, EngagementObserved)]
            oldest = min(engagements, key=lambda e: e.data.observed_at)

            def again(label: str, at: datetime) -> EngagementObserved:
                engagement_id = f"{oldest.data.engagement_id}-{label}"
                data = oldest.data.model_copy(
                    update={"engagement_id": engagement_id, "observed_at": at}
                )
                return oldest.model_copy(update={"id": f"{oldest.id}-{label}", "data": data})

            recent = again("new", datetime.now(UTC))
            await publish([oldest, again("old", oldest.data.observed_at), recent])
            counter = ENGAGEMENT_FIELDS[oldest.data.kind.value]
            grown = {**want, counter: want[counter] + oldest.data.count}
            await wait_for(counted, lambda f: f.get(counter) == grown[counter])
            await asyncio.sleep(2)
            summary = await counted()
            assert {name: summary.get(name) for name in grown} == grown
    finally:
        if later is not None:
            later.stop()
        for process in processes.values():
            process.stop()
