"""Erasure: an advocate who opts out with `erase` leaves no id in any generation of the
facts, a replay's included, while every total stays what the events say."""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from metrics_program import (
    Program,
    expected,
    generate,
    per,
    publish,
    replay_since_published,
    start_metrics,
    wait_for,
)
from pymongo import AsyncMongoClient

from contracts import (
    AdvocateOptedOut,
    AdvocateOptedOutData,
    EngagementObserved,
    EngagementObservedData,
    PostShared,
)
from support import MONGODB_URL, ref, token

COUNTERS = ("shares", "reach", "clicks", "unique_clicks", "reactions", "conversions")


def _erase(program: Program, employee: str) -> list[Any]:
    """An opt-out with erasure on the last day, and clicks on their shares after it."""
    at = datetime.combine(program.last_day, time(12), UTC)
    events: list[Any] = [
        AdvocateOptedOut.create(
            tenant_id=program.tenant,
            subject=employee,
            time=at,
            data=AdvocateOptedOutData(employee_id=employee, opted_out_at=at, erase=True),
        )
    ]
    theirs = [
        e for e in program.events if isinstance(e, PostShared) and e.data.employee_id == employee
    ]
    for n, share in enumerate(theirs[:5]):
        events.append(
            EngagementObserved.create(
                tenant_id=program.tenant,
                subject=share.data.share_id,
                data=EngagementObservedData(
                    engagement_id=f"{share.data.share_id}-late",
                    share_id=share.data.share_id,
                    content_id=share.data.content_id,
                    employee_id=employee,
                    network=share.data.network,
                    kind="click",
                    observed_at=at + timedelta(minutes=n + 1),
                    source="redirect",
                    unique=True,
                    campaign_id=share.data.campaign_id,
                    content_kind=share.data.content_kind,
                ),
            )
        )
    program.events.extend(events)
    program.opted_out_at[employee] = at
    return events


async def _generations_naming(database: str, tenant: str, employee: str) -> dict[str, int]:
    """Facts naming `employee`, per facts collection (generation).

    Per tenant: a replay copies other tests' events on the shared Kafka into ours, and
    generated programs reuse employee ids."""
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        db = client[database]
        names = [n for n in await db.list_collection_names() if n.startswith("facts")]
        naming = {"tenant": tenant, "advocate": employee}
        return {n: await db[n].count_documents(naming) for n in sorted(names)}
    finally:
        await client.close()


@pytest.mark.timeout(900)
async def test_an_erased_advocate_leaves_no_id_in_any_generation_and_totals_stay(
    tmp_path,
) -> None:
    suffix = ref("")
    database = f"chorus_metrics_{suffix}"
    program = generate(ref("erase"), advocates=20, items=6, shares=200, seed=3)
    program.published_at = datetime.now(UTC)
    shares = Counter(e.data.employee_id for e in program.events if isinstance(e, PostShared))
    # One who shared a few times: FerretDB rewrites a fact with a scan of its table, and a
    # replay on the shared Kafka copies other tests' events into ours.
    gone = min(
        (a for a, n in shares.items() if n >= 2 and a not in program.opted_out_at),
        key=lambda a: (shares[a], a),
    )
    team = program.teams[gone]
    processes = await start_metrics(tmp_path, suffix)
    api = processes["api"].url
    curator = token(program.tenant, "cur", roles=("curator",))
    start, end = program.first_day, program.last_day
    period = {"start": str(start), "end": str(end)}
    try:
        async with httpx.AsyncClient(timeout=240) as http:

            async def get(path: str, **params: Any) -> Any:
                response = await http.get(f"{api}/api/v1{path}", headers=curator, params=params)
                assert response.status_code == 200, response.text
                return response.json()

            async def counted() -> dict[str, int]:
                return (await get("/summary"))["figures"]

            def all_counted(figures: dict[str, int]) -> bool:
                want = expected(program, start, end)
                return all(figures.get(k, 0) == want.get(k, 0) for k in COUNTERS)

            await publish(program.events)
            await wait_for(counted, all_counted)
            # A replay first, so that a previous generation holds their facts too.
            replay_since_published(database, program)
            assert all(
                n > 0 for n in (await _generations_naming(database, program.tenant, gone)).values()
            )

            await publish(_erase(program, gone))
            await wait_for(counted, all_counted)

            async def naming() -> dict[str, int]:
                return await _generations_naming(database, program.tenant, gone)

            found = await wait_for(naming, lambda n: len(n) >= 2 and not any(n.values()))
            assert len(found) >= 2, found  # the live generation and the one before

            # Totals, a team's and the networks' figures are what the events say.
            figures = (await get("/figures", **period))["figures"]
            want = expected(program, start, end)
            for name in (*COUNTERS, "active_advocates", "enrolled_advocates"):
                assert figures[name] == want.get(name, 0), name
            by_team = (await get("/figures", **period, group=team))["figures"]
            want_team = expected(program, start, end, team=team)
            for name in (*COUNTERS, "active_advocates", "enrolled_advocates"):
                assert by_team[name] == want_team.get(name, 0), name
            networks = (await get("/breakdown/network", **period))["items"]
            assert {r["network"]: (r["shares"], r["clicks"]) for r in networks} == {
                k: (c["shares"], c["clicks"])
                for k, c in per(program, "network", start, end).items()
            }

            # Per advocate, they are a pseudonym with their figures; the others as they were.
            rows = (await get("/breakdown/advocate", **period, limit=1000))["items"]
            got = {r["advocate"]: (r["shares"], r["clicks"], r["reach"]) for r in rows}
            assert gone not in got
            [pseudonym] = [a for a in got if a.startswith("erased-")]
            want_rows = {
                k: (c["shares"], c["clicks"], c["reach"])
                for k, c in per(program, "advocate", start, end).items()
            }
            assert got.pop(pseudonym) == want_rows.pop(gone)
            assert got == want_rows

            # A replay reads the opt-out again and comes to the same figures.
            views = [
                ("/figures", period),
                ("/breakdown/advocate", {**period, "limit": 1000}),
                ("/breakdown/group", period),
                ("/series", {**period, "granularity": "week"}),
            ]
            before = [await get(path, **params) for path, params in views]
            replay_since_published(database, program)
            assert [await get(path, **params) for path, params in views] == before
            assert not any((await _generations_naming(database, program.tenant, gone)).values())
    finally:
        for process in processes.values():
            process.stop()

    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        # The list of erased advocates keeps a hash, not the id.
        erasures = client[database]["erasures"]
        listed = [doc async for doc in erasures.find({"tenant": program.tenant})]
        assert len(listed) == 1
        assert gone not in listed[0].values() and program.tenant + ":" + gone not in str(listed)
    finally:
        await client.close()
