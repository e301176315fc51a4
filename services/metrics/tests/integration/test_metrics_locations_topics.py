"""Breakdowns by the sharer's location and by the shared item's topics: a share and the
engagement with it count under its location and under every topic of its item, in
whatever order the events come, and still after the sharer is erased."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from metrics_program import publish, start_metrics, wait_for

from contracts import (
    AdvocateOptedOut,
    AdvocateOptedOutData,
    EngagementObserved,
    EngagementObservedData,
    PostShared,
    PostSharedData,
)
from support import ref, token


def _share(
    tenant: str, share: str, employee: str, location: str | None, topics: list[str], at: datetime
) -> PostShared:
    return PostShared.create(
        tenant_id=tenant,
        subject=share,
        data=PostSharedData(
            share_id=share,
            content_id=None if not topics else "c-" + "-".join(topics),
            employee_id=employee,
            employee_groups=["sales"],
            network="linkedin",
            short_code=share[-8:],
            tracked_url=f"https://go.example.com/{share[-8:]}",
            shared_at=at,
            audience_size=100,
            method="intent",
            employee_location=location,
            content_topics=topics,
        ),
    )


def _clicks(tenant: str, share: PostShared, n: int, at: datetime) -> list[EngagementObserved]:
    d = share.data
    return [
        EngagementObserved.create(
            tenant_id=tenant,
            subject=d.share_id,
            data=EngagementObservedData(
                engagement_id=f"{d.share_id}-{i}",
                share_id=d.share_id,
                content_id=d.content_id,
                employee_id=d.employee_id,
                network=d.network,
                kind="click",
                observed_at=at + timedelta(minutes=i + 1),
                source="redirect",
                unique=True,
            ),
        )
        for i in range(n)
    ]


@pytest.mark.timeout(600)
async def test_breakdowns_by_location_and_topic_count_shares_and_their_clicks(tmp_path) -> None:
    suffix = ref("")
    tenant = ref("where")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    s1 = _share(tenant, ref("s1-"), "oslo-1", "oslo", ["hiring", "engineering"], at)
    s2 = _share(tenant, ref("s2-"), "oslo-2", "oslo", ["hiring"], at)
    s3 = _share(tenant, ref("s3-"), "bergen-1", "bergen", ["culture"], at)
    s4 = _share(tenant, ref("s4-"), "nowhere-1", None, [], at)  # an own post, no location
    # Clicks first: engagement counts under its share's location however the events come.
    clicks = [*_clicks(tenant, s1, 3, at), *_clicks(tenant, s2, 1, at), *_clicks(tenant, s3, 2, at)]
    clicks += _clicks(tenant, s4, 4, at)
    processes = await start_metrics(tmp_path, suffix)
    api = processes["api"].url
    curator = token(tenant, "cur", roles=("curator",))
    period = {
        "start": str(at.date() - timedelta(days=1)),
        "end": str(at.date() + timedelta(days=1)),
    }
    want_location = {"oslo": (2, 4, 2), "bergen": (1, 2, 1)}
    want_topic = {"hiring": (2, 4, 2), "engineering": (1, 3, 1), "culture": (1, 2, 1)}
    try:
        async with httpx.AsyncClient(timeout=120) as http:

            async def get(path: str, **params: Any) -> Any:
                response = await http.get(f"{api}/api/v1{path}", headers=curator, params=params)
                assert response.status_code == 200, response.text
                return response.json()

            async def by(dimension: str) -> dict[str, tuple[int, int, int]]:
                rows = (await get(f"/breakdown/{dimension}", **period))["items"]
                return {
                    r[dimension]: (r["shares"], r["clicks"], r["active_advocates"]) for r in rows
                }

            await publish(clicks)
            await publish([s1, s2, s3, s4])
            assert await wait_for(lambda: by("location"), lambda got: got == want_location)
            assert await wait_for(lambda: by("topic"), lambda got: got == want_topic)
            rows = (await get("/breakdown/topic", **period, sort="clicks"))["items"]
            assert [r["topic"] for r in rows] == ["hiring", "engineering", "culture"]

            # The CSV tables say the same.
            for table, column, want in (
                ("locations", "location", want_location),
                ("topics", "topic", want_topic),
            ):
                response = await http.get(
                    f"{api}/api/v1/export/{table}.csv", headers=curator, params=period
                )
                assert response.status_code == 200, response.text
                got = {
                    r[column]: (int(r["shares"]), int(r["clicks"]))
                    for r in csv.DictReader(io.StringIO(response.text))
                }
                assert got == {k: v[:2] for k, v in want.items()}

            # An erased sharer's shares keep counting under their location and topics.
            opted_out = AdvocateOptedOut.create(
                tenant_id=tenant,
                subject="bergen-1",
                data=AdvocateOptedOutData(
                    employee_id="bergen-1", opted_out_at=at + timedelta(hours=1), erase=True
                ),
            )
            await publish([opted_out])

            async def advocates() -> set[str]:
                rows = (await get("/breakdown/advocate", **period))["items"]
                return {r["advocate"] for r in rows}

            await wait_for(advocates, lambda got: "bergen-1" not in got)
            assert await by("location") == want_location
            assert await by("topic") == want_topic
    finally:
        for process in processes.values():
            process.stop()
