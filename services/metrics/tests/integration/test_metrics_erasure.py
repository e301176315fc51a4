"""Erasure: an advocate who opts out with `erase` leaves no id in metrics' database within a
minute (any generation of the facts, a replay's included, the fact log's entries, the wins
they decided, the storytellers), while every total stays what the events say, for an api
that followed the erasure and one that loads after it."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from bson import json_util
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
from contracts.erasure import person_key
from metrics.adapters.mongo import decode_facts
from support import MONGODB_URL, ServiceProcess, ref, token

COUNTERS = ("shares", "reach", "clicks", "unique_clicks", "reactions", "conversions")


def _clicks(program: Program, employee: str, at: datetime, label: str) -> list[Any]:
    """A click on each of the first five shares of `employee`, a minute apart from `at`."""
    theirs = [
        e for e in program.events if isinstance(e, PostShared) and e.data.employee_id == employee
    ]
    events: list[Any] = []
    for n, share in enumerate(theirs[:5]):
        events.append(
            EngagementObserved.create(
                tenant_id=program.tenant,
                subject=share.data.share_id,
                data=EngagementObservedData(
                    engagement_id=f"{share.data.share_id}-{label}",
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
    return events


def _erase(program: Program, employee: str) -> list[Any]:
    """An opt-out with erasure on the last day, and clicks on their shares after it."""
    at = datetime.combine(program.last_day, time(12), UTC)
    opt_out = AdvocateOptedOut.create(
        tenant_id=program.tenant,
        subject=employee,
        time=at,
        data=AdvocateOptedOutData(employee_id=employee, opted_out_at=at, erase=True),
    )
    program.events.append(opt_out)
    program.opted_out_at[employee] = at
    return [opt_out, *_clicks(program, employee, at, "late")]


async def _naming(database: str, employee: str, tenant: str | None = None) -> dict[str, int]:
    """Documents that contain `employee` anywhere, per collection of the database; a fact
    log entry's compressed facts are read too. With `tenant`, only that tenant's facts are
    read: a replay copies other tests' events (tens of thousands, on the shared Kafka) into
    the generations, and FerretDB sends 100,000 facts in about half a minute."""
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        db = client[database]
        found: dict[str, int] = {}
        for name in sorted(await db.list_collection_names()):
            query = {"tenant": tenant} if tenant and name.startswith("facts") else {}
            async for doc in db[name].find(query, batch_size=10_000):
                text = json_util.dumps(doc)
                if name == "fact_log":
                    text += json_util.dumps(decode_facts(doc["facts"]))
                if employee in text:
                    found[name] = found.get(name, 0) + 1
        return found
    finally:
        await client.close()


async def _listed(database: str, tenant: str, employee: str) -> bool:
    """Whether the worker has taken in the advocate's erasure."""
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        erasures = client[database]["erasures"]
        return await erasures.find_one({"_id": person_key(tenant, employee)}) is not None
    finally:
        await client.close()


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
    # Employee ids of this test only: a replay copies other tests' events into ours, and
    # the database is searched for the id as a string.
    program = generate(
        ref("erase"), advocates=20, items=6, shares=200, seed=3, employee_prefix=ref("who") + "-"
    )
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
    later: ServiceProcess | None = None
    curator = token(program.tenant, "cur", roles=("curator",))
    admin = token(program.tenant, "adm", roles=("admin",))
    start, end = program.first_day, program.last_day
    period = {"start": str(start), "end": str(end)}
    try:
        async with httpx.AsyncClient(timeout=240) as http:

            async def get(path: str, url: str = api, **params: Any) -> Any:
                response = await http.get(f"{url}/api/v1{path}", headers=curator, params=params)
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

            # They tell the program's wins, and discarded one.
            saved = await http.put(
                f"{api}/api/v1/settings", headers=admin, json={"storytellers": [gone]}
            )
            assert saved.status_code == 200, saved.text
            theirs = token(program.tenant, gone)

            async def drafts() -> list[dict[str, Any]]:
                reply = await http.get(f"{api}/api/v1/wins", headers=theirs)
                assert reply.status_code == 200, reply.text
                return reply.json()["drafts"]

            [draft, *_] = await wait_for(drafts, bool)
            discarded = await http.post(f"{api}/api/v1/wins/{draft['id']}/discard", headers=theirs)
            assert discarded.status_code == 200, discarded.text

            # Clicks just before the erasure: the fact log holds facts naming them.
            before = datetime.combine(program.last_day, time(6), UTC)
            await publish(_clicks(program, gone, before, "early"))
            await wait_for(counted, all_counted)
            found = await _naming(database, gone, program.tenant)
            assert {"facts", "fact_log", "settings", "wins"} <= set(found), found

            # Within a minute of the worker taking the erasure in, nothing in the database
            # names them. (How soon it takes it in is the worker's freshness, measured
            # apart: on the shared Kafka it may first have other tests' records to count.)
            await publish(_erase(program, gone))
            await wait_for(lambda: _listed(database, program.tenant, gone), bool)

            async def anything_naming() -> dict[str, int]:
                return await _naming(database, gone, program.tenant)

            assert await wait_for(anything_naming, lambda found: not found, 60) == {}
            await wait_for(counted, all_counted)

            async def naming() -> dict[str, int]:
                return await _generations_naming(database, program.tenant, gone)

            found = await naming()
            assert len(found) >= 2 and not any(found.values()), found  # live and previous

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
            # The win they discarded goes by their pseudonym; they tell no more.
            wins = (await get("/wins"))["decided"]
            assert [(w["id"], w["decided_by"]) for w in wins] == [(draft["id"], pseudonym)]
            assert (await http.get(f"{api}/api/v1/settings", headers=admin)).json()[
                "storytellers"
            ] == []

            # An api that loads now (from the facts and the rewritten log) counts the same.
            views = [
                ("/figures", period),
                ("/breakdown/advocate", {**period, "limit": 1000}),
                ("/breakdown/group", period),
                ("/breakdown/network", period),
                ("/series", {**period, "granularity": "week"}),
            ]
            later = ServiceProcess("metrics", "api", env=dict(processes["api"].env))
            later.start(tmp_path)
            await asyncio.to_thread(later.wait_healthy, 240)
            for path, params in views:
                assert await get(path, later.url, **params) == await get(path, **params), path

            # A replay reads the opt-out again and comes to the same figures.
            answers = [await get(path, **params) for path, params in views]
            replay_since_published(database, program)
            assert [await get(path, **params) for path, params in views] == answers
            assert not any((await _generations_naming(database, program.tenant, gone)).values())
    finally:
        for process in (*processes.values(), later):
            if process is not None:
                process.stop()

    # Every document of every collection, other tenants' facts included.
    assert await _naming(database, gone) == {}

    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        # The list of erased advocates keeps a hash, not the id.
        erasures = client[database]["erasures"]
        listed = [doc async for doc in erasures.find({"tenant": program.tenant})]
        assert len(listed) == 1
        assert gone not in listed[0].values() and program.tenant + ":" + gone not in str(listed)
    finally:
        await client.close()
