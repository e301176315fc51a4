"""Network growth over 18 months of a generated program: the company page's follower
growth, the advocates' own network growth and new connections per post, per period, team
and network, equal a computation of their own here, from the events as generated."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import httpx
import pytest
from metrics_program import publish, start_metrics, wait_for

from contracts import (
    AdvocateEnrolled,
    AdvocateEnrolledData,
    AnyEvent,
    AudienceMeasured,
    AudienceMeasuredData,
    FollowersMeasured,
    FollowersMeasuredData,
    PostShared,
    PostSharedData,
)
from support import ref, token

TEAMS = ("sales", "engineering", "people")
NETWORKS = ("linkedin", "x")


def _generate(tenant: str, last: date, seed: int = 18) -> dict[str, Any]:
    """18 months: 30 advocates measuring their audiences now and then, the company pages'
    followers measured about weekly, and shares spread over the months."""
    rng = random.Random(seed)
    first = last - timedelta(days=548)
    events: list[AnyEvent] = []
    pages: dict[str, list[tuple[datetime, int]]] = {}
    audiences: dict[tuple[str, str], list[tuple[datetime, int]]] = {}
    shares: list[tuple[datetime, str, str]] = []
    teams: dict[str, str] = {}

    def moment(day: date) -> datetime:
        return datetime.combine(day, time(0), UTC) + timedelta(seconds=rng.randrange(86_400))

    for network in NETWORKS:
        followers = rng.randrange(2_000, 20_000)
        day = first + timedelta(days=rng.randrange(0, 60))
        while day <= last:
            at = moment(day)
            pages.setdefault(network, []).append((at, followers))
            events.append(
                FollowersMeasured.create(
                    tenant_id=tenant,
                    subject=network,
                    data=FollowersMeasuredData(
                        measurement_id=ref("f-"),
                        network=network,
                        followers=followers,
                        measured_at=at,
                        source="admin",
                    ),
                )
            )
            followers = max(0, followers + rng.randrange(-40, 160))
            day += timedelta(days=rng.randrange(5, 10))
    for n in range(30):
        employee = f"a{n:02d}"
        teams[employee] = TEAMS[n % 3]
        enrolled = moment(first + timedelta(days=rng.randrange(0, 200)))
        events.append(
            AdvocateEnrolled.create(
                tenant_id=tenant,
                subject=employee,
                time=enrolled,
                data=AdvocateEnrolledData(
                    employee_id=employee,
                    employee_groups=[teams[employee]],
                    consent_at=enrolled,
                    networks=["linkedin"],
                ),
            )
        )
        for network in NETWORKS[: 1 + n % 2]:
            size = rng.randrange(0, 3_000) if n % 7 else 0
            day = enrolled.date() + timedelta(days=rng.randrange(0, 30))
            while day <= last:
                at = moment(day)
                audiences.setdefault((employee, network), []).append((at, size))
                events.append(
                    AudienceMeasured.create(
                        tenant_id=tenant,
                        subject=employee,
                        data=AudienceMeasuredData(
                            measurement_id=ref("m-"),
                            employee_id=employee,
                            network=network,
                            audience_size=size,
                            measured_at=at,
                            source="person" if n % 3 else "connector",
                        ),
                    )
                )
                size = max(0, size + rng.randrange(-5, 60))
                day += timedelta(days=rng.randrange(10, 70))
    for n in range(700):
        employee = f"a{rng.randrange(30):02d}"
        network = rng.choice(NETWORKS)
        at = moment(first + timedelta(days=rng.randrange(0, 549)))
        shares.append((at, employee, network))
        share_id = ref("s-")
        events.append(
            PostShared.create(
                tenant_id=tenant,
                subject=share_id,
                time=at,
                data=PostSharedData(
                    share_id=share_id,
                    content_id=f"c{n % 9}",
                    employee_id=employee,
                    employee_groups=[teams[employee]],
                    network=network,
                    short_code=f"g{n:07d}",
                    tracked_url=f"https://go.example.com/l/g{n:07d}",
                    shared_at=at,
                    audience_size=100,
                    method="intent",
                ),
            )
        )
    rng.shuffle(events)
    return {
        "first": first,
        "events": events,
        "pages": pages,
        "audiences": audiences,
        "shares": shares,
        "teams": teams,
    }


def _expected(
    program: dict[str, Any], first: date, last: date, team: str | None, network: str | None
) -> dict[str, float | None]:
    """The three figures, by their definitions, by brute force over the generated points."""
    start = datetime.combine(first, time(0), UTC)
    end = datetime.combine(last + timedelta(days=1), time(0), UTC)

    def span(points: list[tuple[datetime, int]]) -> tuple[int, int] | None:
        before = [p for p in points if p[0] <= start]
        inside = sorted(p for p in points if start < p[0] < end)
        if not inside:
            return None
        if before:
            return max(before)[1], inside[-1][1]
        return (inside[0][1], inside[-1][1]) if len(inside) > 1 else None

    was = now = 0
    for name, points in program["pages"].items():
        if network in (None, name) and (s := span(points)) is not None:
            was, now = was + s[0], now + s[1]
    rates, gained, posts = [], 0, 0
    for (employee, name), points in program["audiences"].items():
        if network not in (None, name) or team not in (None, program["teams"][employee]):
            continue
        s = span(points)
        if s is None:
            continue
        gained += s[1] - s[0]
        posts += sum(
            1
            for at, who, on in program["shares"]
            if who == employee and on == name and start <= at < end
        )
        if s[0]:
            rates.append((s[1] - s[0]) / s[0])
    return {
        "company_follower_growth": round((now - was) / was, 6) if was else None,
        "advocate_network_growth": round(sum(rates) / len(rates), 6) if rates else None,
        "new_connections_per_post": round(gained / posts, 6) if posts else None,
    }


@pytest.mark.timeout(900)
async def test_network_growth_over_18_months_equals_an_independent_computation(
    tmp_path,
) -> None:
    tenant = ref("growth")
    last = datetime.now(UTC).date() - timedelta(days=1)
    program = _generate(tenant, last)
    processes = await start_metrics(tmp_path, ref(""))
    api = processes["api"].url
    curator = token(tenant, "cur", roles=("curator",))
    first: date = program["first"]
    # The whole 18 months, two quarters (the first, when histories begin) and the last 30 days.
    periods = [(first, last), (first, first + timedelta(days=90))]
    periods += [(first + timedelta(days=273), first + timedelta(days=363))]
    periods += [(last - timedelta(days=29), last)]
    slices = [(None, None), *((team, None) for team in TEAMS), *((None, n) for n in NETWORKS)]
    slices += [("engineering", "x")]
    try:
        async with httpx.AsyncClient(
            base_url=f"{api}/api/v1", headers=curator, timeout=120
        ) as http:

            async def figures(start: date, end: date, **filters: str) -> dict[str, Any]:
                params = {"start": start.isoformat(), "end": end.isoformat(), **filters}
                response = await http.get("/figures", params=params)
                assert response.status_code == 200, response.text
                return dict(response.json()["figures"])

            await publish(program["events"])
            whole = _expected(program, first, last, None, None)
            await wait_for(
                lambda: figures(first, last),
                lambda got: (
                    got["shares"] == 700
                    and got["new_connections_per_post"] == whole["new_connections_per_post"]
                    and got["company_follower_growth"] == whole["company_follower_growth"]
                ),
            )
            for start, end in periods:
                for team, network in slices:
                    filters = {k: v for k, v in (("group", team), ("network", network)) if v}
                    got = await figures(start, end, **filters)
                    want = _expected(program, start, end, team, network)
                    assert {k: got[k] for k in want} == want, (start, end, team, network)
            # Something grew, and the case study's three figures are all there.
            assert all(value is not None for value in whole.values())

            # Goals can be set on them, and the CSV says how each is computed.
            goal = await http.put(
                "/goals/growth",
                json={
                    "name": "Company page +14 %",
                    "metric": "company_follower_growth",
                    "target": 0.14,
                    "start": first.isoformat(),
                    "end": last.isoformat(),
                },
            )
            assert goal.status_code == 200, goal.text
            assert goal.json()["value"] == whole["company_follower_growth"]
            csv = await http.get(
                "/export/figures.csv", params={"start": first.isoformat(), "end": last.isoformat()}
            )
            assert "new_connections_per_post" in csv.text and "/ their shares" in csv.text
    finally:
        for process in processes.values():
            process.stop()
