"""The right moment: a tenant's engagement by weekday and hour, in its audience's time
zone, learned from its own events, with the hours to suggest when someone schedules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
from metrics_program import publish, start_metrics, wait_for

from contracts import EngagementObserved, EngagementObservedData
from support import ref, token

OSLO = ZoneInfo("Europe/Oslo")


def _engagement(tenant: str, at: datetime, network: str, kind: str, n: int) -> EngagementObserved:
    share = ref("s-")
    return EngagementObserved.create(
        tenant_id=tenant,
        subject=share,
        data=EngagementObservedData(
            engagement_id=ref("e-"),
            share_id=share,
            content_id="c1",
            employee_id="e1",
            network=network,
            kind=kind,
            count=n,
            observed_at=at,
            source="redirect" if kind == "click" else "api",
            unique=kind == "click",
        ),
    )


@pytest.mark.timeout(600)
async def test_moments_are_learned_per_network_in_the_audience_time_zone(tmp_path) -> None:
    tenant = ref("moments")
    # Last week's Tuesday and Thursday, at hours of Oslo.
    today = datetime.now(OSLO).date()
    tuesday = today - timedelta(days=today.weekday() - 1 + 7)
    thursday = tuesday + timedelta(days=2)

    def oslo(day: Any, hour: int) -> datetime:
        return datetime(day.year, day.month, day.day, hour, 20, tzinfo=OSLO).astimezone(UTC)

    events = [
        *(_engagement(tenant, oslo(tuesday, 7), "linkedin", "click", 1) for _ in range(20)),
        _engagement(tenant, oslo(thursday, 18), "linkedin", "reaction", 12),
        _engagement(tenant, oslo(thursday, 21), "linkedin", "comment", 3),
        _engagement(tenant, oslo(thursday, 21), "linkedin", "impression", 500),
        *(_engagement(tenant, oslo(tuesday, 12), "x", "click", 1) for _ in range(4)),
    ]
    processes = await start_metrics(tmp_path, ref(""))
    api = processes["api"].url
    admin = token(tenant, "admin1", roles=("admin",))
    employee = token(tenant, "e7")
    try:
        async with httpx.AsyncClient(base_url=f"{api}/api/v1", timeout=60) as http:
            # The audience's time zone is the program's setting, checked when saved.
            wrong = await http.put("/settings", json={"time_zone": "Mars/Olympus"}, headers=admin)
            assert wrong.status_code == 422
            assert wrong.headers["content-type"].startswith("application/problem+json")
            assert "time_zone" in wrong.text
            saved = await http.put("/settings", json={"time_zone": "Europe/Oslo"}, headers=admin)
            assert saved.status_code == 200, saved.text

            await publish(events)

            async def moments(**params: Any) -> dict[str, Any]:
                response = await http.get("/moments", params=params, headers=employee)
                assert response.status_code == 200, response.text
                return dict(response.json())

            # Patterns are kept for a while per api process: a different period reads anew.
            weeks = iter(range(2, 60))
            got = await wait_for(
                lambda: moments(weeks=next(weeks)),
                lambda got: got["networks"][0]["engagements"] == 39,
            )
            assert got["time_zone"] == "Europe/Oslo"
            every, linkedin, x = got["networks"]
            assert (every["network"], linkedin["network"], x["network"]) == ("all", "linkedin", "x")
            # Impressions are not a person acting: they do not count.
            assert linkedin["engagements"] == 35
            assert linkedin["hours"][1][7] == 20
            assert linkedin["hours"][3][18] == 12
            assert linkedin["hours"][3][21] == 3
            assert [(s["weekday"], s["hour"]) for s in linkedin["best"]] == [
                (1, 7),
                (3, 18),
                (3, 21),
            ]
            assert linkedin["best"][0]["share"] == pytest.approx(20 / 35)
            # Every suggested time lies ahead, at the start of the hour in Oslo.
            now = datetime.now(UTC)
            for at in map(datetime.fromisoformat, linkedin["next"]):
                assert at > now
                assert (at.astimezone(OSLO).minute, at.astimezone(OSLO).hour) in {
                    (0, 7),
                    (0, 18),
                    (0, 21),
                }
            # Too little engagement on X to suggest anything yet.
            assert x["engagements"] == 4 and x["best"] == [] and x["next"] == []

            only = await moments(network="x", weeks=got["weeks"])
            assert [n["network"] for n in only["networks"]] == ["x"]
            nothing = await moments(network="instagram", weeks=got["weeks"])
            assert nothing["networks"][0]["engagements"] == 0

            bad = await http.get("/moments", params={"weeks": 0}, headers=employee)
            assert bad.status_code == 422 and "weeks" in bad.text
            other = await http.get("/moments", headers=token(ref("other"), "e1"))
            assert other.json()["networks"][0]["engagements"] == 0
    finally:
        for process in processes.values():
            process.stop()
