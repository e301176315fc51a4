"""Leaders' participation is its own figure: of the enrolled members of the leaders' group
(named by the share service, passed as `leaders_group`), how many shared in the period."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from metrics_program import publish, start_metrics, wait_for

from contracts import AdvocateEnrolled, AdvocateEnrolledData, PostShared, PostSharedData
from support import ref, token


def _enrolled(tenant: str, employee: str, groups: list[str], at: datetime) -> AdvocateEnrolled:
    return AdvocateEnrolled.create(
        tenant_id=tenant,
        subject=employee,
        time=at,
        data=AdvocateEnrolledData(
            employee_id=employee, employee_groups=groups, consent_at=at, networks=["linkedin"]
        ),
    )


def _shared(tenant: str, employee: str, groups: list[str], at: datetime) -> PostShared:
    share = ref("s")
    return PostShared.create(
        tenant_id=tenant,
        subject=share,
        data=PostSharedData(
            share_id=share,
            content_id=None,
            employee_id=employee,
            employee_groups=groups,
            network="linkedin",
            short_code=share[-8:],
            tracked_url=f"https://go.example.com/{share[-8:]}",
            shared_at=at,
            audience_size=100,
            method="intent",
            by_leader="leadership" in groups,
        ),
    )


@pytest.mark.timeout(300)
async def test_leaders_participation_beside_everyones(tmp_path) -> None:
    tenant = ref("leaders")
    now = datetime.now(UTC).replace(microsecond=0)
    enrolled_at = now - timedelta(days=60)
    leaders = {f"leader-{n}": ["leadership", "oslo"] for n in range(4)}
    staff = {f"dev-{n}": ["engineering"] for n in range(6)}
    events: list[Any] = [
        _enrolled(tenant, who, groups, enrolled_at) for who, groups in {**leaders, **staff}.items()
    ]
    # This month: three of four leaders share (one twice), and two of six others.
    for who in ("leader-0", "leader-1", "leader-2", "leader-0", "dev-0", "dev-1"):
        events.append(_shared(tenant, who, [*leaders.get(who, staff.get(who, []))], now))
    # The month before: one leader.
    events.append(_shared(tenant, "leader-3", leaders["leader-3"], now - timedelta(days=40)))
    processes = await start_metrics(tmp_path, ref(""))
    api = processes["api"].url
    curator = token(tenant, "cur", roles=("curator",))
    period = {"start": str((now - timedelta(days=29)).date()), "end": str(now.date())}
    try:
        async with httpx.AsyncClient(timeout=120) as http:

            async def figures(**params: Any) -> dict[str, Any]:
                response = await http.get(
                    f"{api}/api/v1/figures", headers=curator, params={**period, **params}
                )
                assert response.status_code == 200, response.text
                return dict(response.json())

            await publish(events)
            got = await wait_for(
                lambda: figures(leaders_group="leadership"),
                lambda f: f["figures"]["shares"] == 6 and f["previous"]["shares"] == 1,
            )
            current, previous = got["figures"], got["previous"]
            assert current["leaders_active"] == 3
            assert current["leaders_enrolled"] == 4
            assert current["leader_participation"] == 0.75
            assert current["participation"] == 0.5  # 5 of 10
            assert previous["leader_participation"] == 0.25
            assert got["change"]["leader_participation"] == 2.0
            assert "leader_participation" in got["formulas"]
            # Without the group named, no leaders' figures.
            assert "leader_participation" not in (await figures())["figures"]
            # Within a team: the leaders of that team.
            oslo = (await figures(leaders_group="leadership", group="oslo"))["figures"]
            assert (oslo["leaders_active"], oslo["leaders_enrolled"]) == (3, 4)
            engineering = await figures(leaders_group="leadership", group="engineering")
            assert engineering["figures"]["leaders_enrolled"] == 0
            assert engineering["figures"]["leader_participation"] is None
            bad = await http.get(
                f"{api}/api/v1/figures", headers=curator, params={"leaders_group": ""}
            )
            assert bad.status_code == 422
            assert "leaders_group" in bad.text
    finally:
        for process in processes.values():
            process.stop()
