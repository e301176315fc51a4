"""Every figure of a generated program, against the real servers, compared with an
independent computation from the generated events."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from metrics_program import (
    expected,
    generate,
    per,
    publish,
    replay_since_published,
    series,
    start_metrics,
    totals,
    wait_for,
)
from pymongo import AsyncMongoClient

from metrics.entrypoints.api import Dimension
from support import MONGODB_URL, eventually, ref, token

PRICES = {
    "currency": "EUR",
    "cpm": {"linkedin": 12.0, "x": 6.5, "facebook": 8.0},
    "cpc": 1.2,
    "per_engagement": 0.4,
}
EMPLOYEES = 120
COUNTERS = (
    "shares",
    "reach",
    "clicks",
    "unique_clicks",
    "reactions",
    "comments",
    "reshares",
    "impressions",
    "conversions",
)
RATES = (
    "engagement_rate",
    "click_through_rate",
    "participation",
    "participation_of_employees",
    "shares_per_active_advocate",
)


@pytest.fixture(scope="module")
async def stack(tmp_path_factory):
    suffix = ref("")
    processes = await start_metrics(tmp_path_factory.mktemp("metrics"), suffix)
    try:
        yield processes, suffix
    finally:
        for process in processes.values():
            process.stop()


@pytest.fixture(scope="module")
async def program(stack):
    processes, _ = stack
    generated = generate(ref("prog"))
    generated.published_at = datetime.now(UTC)
    await publish(generated.events)
    api = processes["api"].url
    admin = token(generated.tenant, "boss", roles=("admin",))
    async with httpx.AsyncClient(timeout=240) as http:
        saved = await http.put(
            f"{api}/api/v1/settings", headers=admin, json={"prices": PRICES, "employees": EMPLOYEES}
        )
        assert saved.status_code == 200, saved.text
        want = totals(generated)

        async def counted() -> dict[str, int]:
            response = await http.get(f"{api}/api/v1/summary", headers=token(generated.tenant))
            return response.json()["figures"]

        await wait_for(counted, lambda f: all(f.get(k) == v for k, v in want.items()))
    return generated


def _curator(program) -> dict[str, str]:
    return token(program.tenant, "cur", roles=("curator",))


async def _get(stack, program, path: str, **params: Any) -> Any:
    processes, _ = stack
    async with httpx.AsyncClient(timeout=240) as http:
        response = await http.get(
            f"{processes['api'].url}/api/v1{path}", headers=_curator(program), params=params
        )
    assert response.status_code == 200, response.text
    return response.json() if "json" in response.headers["content-type"] else response.text


def _assert_figures(actual: dict[str, Any], want: dict[str, Any]) -> None:
    for name in COUNTERS:
        assert actual[name] == want.get(name, 0), name
    for name in ("engagements", "active_advocates", "enrolled_advocates"):
        assert actual[name] == want[name], name
    for name in RATES:
        if name in want:
            assert actual[name] == pytest.approx(want[name], abs=1e-6), name
    if "earned_media_value" in want:
        assert actual["earned_media_value"] == pytest.approx(want["earned_media_value"], abs=0.01)


async def test_every_figure_of_a_period_and_the_previous_one(stack, program) -> None:
    end = program.last_day
    start = end - timedelta(days=27)
    body = await _get(stack, program, "/figures", start=start, end=end)
    _assert_figures(
        body["figures"],
        expected(program, start, end, prices=PRICES, employees=EMPLOYEES),
    )
    before = start - timedelta(days=28), start - timedelta(days=1)
    assert body["previous_period"] == {"start": str(before[0]), "end": str(before[1])}
    previous = expected(program, *before, prices=PRICES, employees=EMPLOYEES)
    _assert_figures(body["previous"], previous)
    assert body["change"]["shares"] == pytest.approx(
        (body["figures"]["shares"] - previous["shares"]) / previous["shares"], abs=1e-6
    )
    assert body["formulas"]["click_through_rate"] == "unique_clicks / reach"


@pytest.mark.parametrize(
    "filters",
    [{"team": "sales"}, {"team": "hr"}, {"network": "linkedin"}, {"campaign": "camp2"}],
)
async def test_group_network_and_campaign_filters(stack, program, filters) -> None:
    start, end = program.first_day, program.last_day
    params = {"group" if k == "team" else k: v for k, v in filters.items()}
    body = await _get(stack, program, "/figures", start=start, end=end, **params)
    want = expected(program, start, end, **filters)
    for name in COUNTERS:
        assert body["figures"][name] == want.get(name, 0), name
    assert body["figures"]["active_advocates"] == want["active_advocates"]
    if "team" in filters:
        assert body["figures"]["enrolled_advocates"] == want["enrolled_advocates"]


@pytest.mark.parametrize("dimension", ["advocate", "group", "network", "content", "campaign"])
async def test_breakdowns_and_top_lists(stack, program, dimension) -> None:
    start, end = program.first_day, program.last_day
    want = per(program, dimension, start, end)
    body = await _get(stack, program, f"/breakdown/{dimension}", start=start, end=end, limit=1000)
    rows = {row[dimension]: row for row in body["items"] if row["shares"] or row["clicks"]}
    assert set(rows) == set(want)
    for key, counters in want.items():
        for name in ("shares", "reach", "clicks", "unique_clicks", "conversions"):
            assert rows[key][name] == counters.get(name, 0), (key, name)
    top = await _get(
        stack, program, f"/breakdown/{dimension}", start=start, end=end, sort="reach", limit=3
    )
    best = sorted(want.values(), key=lambda c: -c["reach"])[:3]
    assert [row["reach"] for row in top["items"]] == [c["reach"] for c in best]


@pytest.mark.parametrize("granularity", ["day", "week", "month", "year"])
async def test_series_roll_days_up_to_weeks_months_and_years(stack, program, granularity) -> None:
    body = await _get(
        stack,
        program,
        "/series",
        start=program.first_day,
        end=program.last_day,
        granularity=granularity,
    )
    got = {row["period"]: row["shares"] for row in body["items"] if row["shares"]}
    assert got == series(program, granularity)


async def test_recruiting_funnel_per_job_posting(stack, program) -> None:
    start, end = program.first_day, program.last_day
    body = await _get(stack, program, "/funnel", start=start, end=end)
    jobs = {c for c, item in program.content.items() if item["kind"] == "job"}
    want = {k: v for k, v in per(program, "content", start, end).items() if k in jobs}
    rows = {row["content"]: row for row in body["items"]}
    assert set(rows) == set(want)
    for content, counters in want.items():
        for name in ("shares", "reach", "clicks", "unique_clicks", "conversions"):
            assert rows[content][name] == counters.get(name, 0), (content, name)
        assert rows[content]["conversion_rate"] == pytest.approx(
            counters["conversions"] / counters["unique_clicks"], abs=1e-6
        )


async def test_earned_media_value_shows_its_formula(stack, program) -> None:
    start, end = program.first_day, program.last_day
    body = await _get(stack, program, "/emv", start=start, end=end)
    want = expected(program, start, end, prices=PRICES)
    assert body["value"] == pytest.approx(want["earned_media_value"], abs=0.01)
    assert body["currency"] == "EUR"
    assert "CPM" in body["formula"] and "CPC" in body["formula"]
    assert body["computation"].endswith(f"= {body['value']:.2f}")
    assert {t["network"] for t in body["terms"]["reach"]} == {"linkedin", "x", "facebook"}


async def test_goals_report_progress(stack, program) -> None:
    processes, _ = stack
    start, end = program.first_day, program.last_day
    async with httpx.AsyncClient(timeout=240) as http:
        saved = await http.put(
            f"{processes['api'].url}/api/v1/goals/applications",
            headers=_curator(program),
            json={
                "name": "Applications from advocacy",
                "metric": "conversions",
                "target": 200,
                "start": str(start),
                "end": str(end),
                "filters": {"kind": "job"},
            },
        )
        assert saved.status_code == 200, saved.text
        bad = await http.put(
            f"{processes['api'].url}/api/v1/goals/bad",
            headers=_curator(program),
            json={
                "name": "x",
                "metric": "bogus",
                "target": 1,
                "start": str(start),
                "end": str(end),
            },
        )
        assert bad.status_code == 422
        assert bad.headers["content-type"].startswith("application/problem+json")
    goal = saved.json()
    conversions = expected(program, start, end)["conversions"]
    assert goal["value"] == conversions
    assert goal["progress"] == pytest.approx(conversions / 200, abs=1e-6)
    assert goal["achieved"] == (conversions >= 200)
    listed = await _get(stack, program, "/goals")
    assert [g["id"] for g in listed["items"]] == ["applications"]


@pytest.mark.parametrize(
    "table",
    ["figures", "series", "content", "advocates", "groups", "networks", "campaigns", "funnel"],
)
async def test_every_table_exports_as_csv(stack, program, table) -> None:
    start, end = program.first_day, program.last_day
    text = await _get(stack, program, f"/export/{table}.csv", start=start, end=end)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert rows, text[:200]
    if table == "figures":
        values = {row["figure"]: row["value"] for row in rows}
        assert int(values["shares"]) == expected(program, start, end)["shares"]
    elif table == "advocates":
        want = per(program, "advocate", start, end)
        assert {r["advocate"]: int(r["shares"]) for r in rows if int(r["shares"])} == {
            k: v["shares"] for k, v in want.items() if v["shares"]
        }
    elif table == "networks":
        want = per(program, "network", start, end)
        assert {r["network"]: int(r["reach"]) for r in rows} == {
            k: v["reach"] for k, v in want.items()
        }


async def test_program_report_summarises_the_period(stack, program) -> None:
    end = program.last_day
    start = end - timedelta(days=27)
    body = await _get(stack, program, "/report", start=start, end=end)
    want = expected(program, start, end, prices=PRICES, employees=EMPLOYEES)
    _assert_figures(body["figures"], want)
    assert body["earned_media_value"]["value"] == pytest.approx(
        want["earned_media_value"], abs=0.01
    )
    assert len(body["top_content"]) == 5 and len(body["top_advocates"]) == 5
    assert body["top_advocates"][0]["shares"] == max(
        v["shares"] for v in per(program, "advocate", start, end).values()
    )
    assert any(str(want["shares"]) in line for line in body["highlights"])


@pytest.mark.parametrize("filters", [{}, {"group": "sales", "network": "linkedin"}])
async def test_the_dashboard_answers_as_the_calls_it_stands_for(stack, program, filters) -> None:
    end = program.last_day
    start = end - timedelta(days=27)
    where = {"start": start, "end": end, **filters}
    body = await _get(stack, program, "/dashboard", **where, granularity="week", limit=3)
    assert body["figures"] == await _get(stack, program, "/figures", **where)
    assert body["emv"] == await _get(stack, program, "/emv", **where)
    assert body["series"] == await _get(stack, program, "/series", **where, granularity="week")
    before = {**where, "start": start - timedelta(days=28), "end": start - timedelta(days=1)}
    assert body["previous_series"] == await _get(
        stack, program, "/series", **before, granularity="week"
    )
    assert body["funnel"] == await _get(stack, program, "/funnel", **where, limit=3)
    assert body["goals"] == await _get(stack, program, "/goals")
    assert set(body["breakdowns"]) == {d.value for d in Dimension}
    for dimension, breakdown in body["breakdowns"].items():
        limit = 50 if dimension == "advocate" else 3
        assert breakdown == await _get(
            stack, program, f"/breakdown/{dimension}", **where, limit=limit
        ), dimension
    only = await _get(stack, program, "/dashboard", **where, part=["figures", "emv"])
    assert only == {"figures": body["figures"], "emv": body["emv"]}
    bad = await _get_problem(stack, program, "/dashboard", limit=0)
    assert bad["status"] == 422 and "limit" in str(bad)
    bad = await _get_problem(stack, program, "/dashboard", part="everything")
    assert bad["status"] == 422 and "part" in str(bad)


async def _get_problem(stack, program, path: str, **params: Any) -> dict[str, Any]:
    processes, _ = stack
    async with httpx.AsyncClient(timeout=240) as http:
        response = await http.get(
            f"{processes['api'].url}/api/v1{path}", headers=_curator(program), params=params
        )
    assert response.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = response.json()
    return body


async def test_queries_are_scoped_by_tenant_role_and_checked(stack, program) -> None:
    processes, _ = stack
    api = processes["api"].url
    async with httpx.AsyncClient(timeout=240) as http:
        other = await http.get(
            f"{api}/api/v1/figures", headers=token(ref("other"), roles=("curator",))
        )
        assert other.status_code == 200 and other.json()["figures"]["shares"] == 0
        employee = await http.get(f"{api}/api/v1/figures", headers=token(program.tenant))
        assert employee.status_code == 403
        for params, field in (
            ({"start": "2026-02-10", "end": "2026-02-01"}, "end"),
            ({"network": "myspace"}, "network"),
            ({"start": "yesterday"}, "start"),
        ):
            bad = await http.get(f"{api}/api/v1/figures", headers=_curator(program), params=params)
            assert bad.status_code == 422, bad.text
            assert bad.headers["content-type"].startswith("application/problem+json")
            assert field in bad.text
        unknown = await http.get(f"{api}/api/v1/breakdown/planet", headers=_curator(program))
        assert unknown.status_code == 422
        sort = await http.get(
            f"{api}/api/v1/breakdown/content", headers=_curator(program), params={"sort": "x"}
        )
        assert sort.status_code == 422 and "sort" in sort.text


async def test_business_metrics_are_per_tenant_and_network_only(stack, program) -> None:
    processes, _ = stack
    text = httpx.get(processes["worker"].url + "/metrics", timeout=10).text
    lines = [line for line in text.splitlines() if line.startswith("chorus_metrics_")]
    ours = [line for line in lines if program.tenant in line]
    assert any(line.startswith("chorus_metrics_shares_total{") for line in ours)
    assert any(line.startswith("chorus_metrics_engagements_total{") for line in ours)
    assert all("e00" not in line and "c00" not in line for line in lines)

    async def gauge() -> list[str]:
        scraped = httpx.get(processes["worker"].url + "/metrics", timeout=10).text
        return [
            line
            for line in scraped.splitlines()
            if line.startswith("chorus_metrics_enrolled_advocates{") and program.tenant in line
        ]

    today = expected(program, program.last_day, program.last_day)["enrolled_advocates"]
    found = await eventually(gauge, bool)
    assert float(found[0].rsplit(" ", 1)[1]) == today


@pytest.mark.timeout(600)
async def test_replay_rebuilds_identical_figures_and_swaps_them_in(stack, program) -> None:
    _, suffix = stack
    start, end = program.first_day, program.last_day
    views = [
        ("/figures", {"start": start, "end": end}),
        ("/breakdown/advocate", {"start": start, "end": end, "limit": 1000}),
        ("/breakdown/group", {"start": start, "end": end}),
        ("/series", {"start": start, "end": end, "granularity": "week"}),
        ("/funnel", {"start": start, "end": end}),
        ("/emv", {"start": start, "end": end}),
    ]
    before = [await _get(stack, program, path, **params) for path, params in views]
    database = f"chorus_metrics_{suffix}"
    output = replay_since_published(database, program)
    assert "into facts_g" in output, output
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        pointer = await client[database]["generations"].find_one({"_id": "active"})
    finally:
        await client.close()
    assert pointer is not None and pointer["generation"] >= 1
    after = [await _get(stack, program, path, **params) for path, params in views]
    assert after == before
