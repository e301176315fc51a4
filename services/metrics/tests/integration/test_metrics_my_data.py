"""The download of my data: the facts that name me, my totals, and nothing of anyone
else; once I was erased, nothing that names me."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from metrics_program import publish, start_metrics

from contracts import (
    AdvocateEnrolled,
    AdvocateEnrolledData,
    AdvocateOptedOut,
    AdvocateOptedOutData,
    AnyEvent,
    EngagementObserved,
    EngagementObservedData,
    PointsAwarded,
    PointsAwardedData,
    PostShared,
    PostSharedData,
)
from support import eventually, ref, token


def _shared(tenant: str, employee: str, at: datetime, audience: int) -> PostShared:
    share_id = ref("s")
    return PostShared.create(
        tenant_id=tenant,
        subject=share_id,
        time=at,
        data=PostSharedData(
            share_id=share_id,
            content_id="c1",
            employee_id=employee,
            employee_groups=["sales"],
            network="linkedin",
            short_code=share_id[:8],
            tracked_url=f"https://go.example.com/l/{share_id[:8]}",
            shared_at=at,
            audience_size=audience,
            method="intent",
        ),
    )


def _events(tenant: str, at: datetime) -> tuple[list[AnyEvent], PostShared]:
    mine = _shared(tenant, "emp-a", at, 300)
    events: list[AnyEvent] = [
        AdvocateEnrolled.create(
            tenant_id=tenant,
            subject="emp-a",
            time=at - timedelta(hours=1),
            data=AdvocateEnrolledData(
                employee_id="emp-a",
                employee_groups=["sales"],
                consent_at=at - timedelta(hours=1),
                networks=["linkedin"],
                location="Oslo",
            ),
        ),
        mine,
        EngagementObserved.create(
            tenant_id=tenant,
            subject=mine.data.share_id,
            data=EngagementObservedData(
                engagement_id=ref("click-"),
                share_id=mine.data.share_id,
                content_id="c1",
                employee_id="emp-a",
                network="linkedin",
                kind="click",
                observed_at=at + timedelta(minutes=5),
                source="redirect",
                unique=True,
            ),
        ),
        PointsAwarded.create(
            tenant_id=tenant,
            subject="emp-a",
            data=PointsAwardedData(
                award_id=ref("award-"),
                employee_id="emp-a",
                points=10,
                rule_id="share",
                rule_version=1,
                reason="shared a post",
                source_event_id=mine.id,
                source_event_type=mine.type,
                awarded_at=at,
            ),
        ),
        # A colleague, and one who shared and then asked to be erased.
        _shared(tenant, "emp-b", at, 900),
        _shared(tenant, "emp-c", at, 50),
        AdvocateOptedOut.create(
            tenant_id=tenant,
            subject="emp-c",
            data=AdvocateOptedOutData(employee_id="emp-c", opted_out_at=at, erase=True),
        ),
    ]
    return events, mine


async def test_my_export_holds_my_facts_and_totals_and_nothing_once_erased(tmp_path) -> None:
    tenant = ref("mine")
    processes = await start_metrics(tmp_path, ref(""))
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=2)
    events, share = _events(tenant, at)
    try:
        await publish(events)
        async with httpx.AsyncClient(base_url=processes["api"].url, timeout=60) as http:

            async def export(who: str, **params: Any) -> dict[str, Any]:
                answer = await http.get(
                    "/api/v1/me/export", headers=token(tenant, who), params=params
                )
                assert answer.status_code == 200, answer.text
                return dict(answer.json())

            mine = await eventually(
                lambda: export("emp-a"), lambda m: len(m["facts"]) == 4, timeout=60
            )
            erased = await eventually(lambda: export("emp-c"), lambda m: m["erased"], timeout=60)
            theirs = await export("emp-b")
            first = await export("emp-a", limit=3)
            rest = await export("emp-a", limit=3, cursor=first["next_cursor"])
    finally:
        for process in processes.values():
            process.stop()

    assert mine["employee_id"] == "emp-a" and not mine["erased"]
    by_type = {f["type"]: f for f in mine["facts"]}
    assert sorted(by_type) == [
        "advocate-enrolled",
        "engagement-observed",
        "points-awarded",
        "post-shared",
    ]
    assert by_type["post-shared"]["id"] == f"post-shared:{share.id}"
    assert by_type["post-shared"]["counters"] == {"shares": 1, "reach": 300}
    assert by_type["post-shared"]["groups"] == ["sales"]
    assert by_type["engagement-observed"]["counters"] == {"clicks": 1, "unique_clicks": 1}
    assert by_type["advocate-enrolled"]["location"] == "Oslo"
    assert mine["totals"] == {
        "shares": 1,
        "reach": 300,
        "clicks": 1,
        "unique_clicks": 1,
        "points": 10,
        "enrollments": 1,
    }
    assert mine["next_cursor"] is None
    assert [f["id"] for f in first["facts"] + rest["facts"]] == [f["id"] for f in mine["facts"]]
    assert first["totals"] == mine["totals"] and rest["totals"] is None

    assert [f["counters"]["reach"] for f in theirs["facts"]] == [900]
    assert "emp-b" not in str(mine) and "emp-a" not in str(theirs["facts"])
    # Erased: said so, and nothing that names the person (not even their pseudonym).
    assert erased["facts"] == [] and erased["totals"] is None
    assert "erased-" not in str(erased)
