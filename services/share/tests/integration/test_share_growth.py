"""Network growth starts here: each audience size an advocate gives is a measurement of
its history, and the program team counts the company page's followers now and then."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
from share_stack import ShareStack, TopicTail

from chassis.auth import issue_token
from chassis.settings import LOCAL_JWT_SECRET
from support import ref


def _headers(tenant: str, sub: str, **claims: object) -> dict[str, str]:
    jwt = issue_token(LOCAL_JWT_SECRET, sub=sub, tenant=tenant, **claims)  # type: ignore[arg-type]
    return {"Authorization": f"Bearer {jwt}"}


async def test_each_audience_size_given_is_a_measurement(share_stack: ShareStack) -> None:
    tenant = ref("grow")
    person = _headers(tenant, "p1")
    measured = await TopicTail("chorus.audience-measured.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            joined = await http.post("/api/v1/advocates/me", headers=person, json={"accept": True})
            assert joined.status_code == 201, joined.text
            for size in (480, 512):
                connected = await http.put(
                    "/api/v1/advocates/me/networks/linkedin",
                    headers=person,
                    json={"audience_size": size},
                )
                assert connected.status_code == 200, connected.text
        seen: list[dict[str, object]] = []
        for _ in range(50):
            records = await measured.poll(0.2)
            seen = [r["data"] for r in records if r["tenantid"] == tenant]
            if len(seen) == 2:
                break
        assert [(d["employee_id"], d["network"], d["audience_size"]) for d in seen] == [
            ("p1", "linkedin", 480),
            ("p1", "linkedin", 512),
        ]
        assert {d["source"] for d in seen} == {"person"}
        assert len({d["measurement_id"] for d in seen}) == 2
    finally:
        await measured.stop()


async def test_the_program_team_records_the_company_page_followers(
    share_stack: ShareStack,
) -> None:
    tenant = ref("page")
    admin = _headers(tenant, "adm", roles=["admin"])
    curator = _headers(tenant, "cur", roles=["curator"])
    measured = await TopicTail("chorus.followers-measured.v1").start()
    last_month = datetime.now(UTC).replace(microsecond=0) - timedelta(days=30)
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            earlier = await http.post(
                "/api/v1/company/followers",
                headers=admin,
                json={
                    "network": "linkedin",
                    "followers": 12000,
                    "measured_at": last_month.isoformat(),
                },
            )
            assert earlier.status_code == 201, earlier.text
            now = await http.post(
                "/api/v1/company/followers",
                headers=admin,
                json={"network": "linkedin", "followers": 13680},
            )
            assert now.status_code == 201, now.text

            # Newest first, for the program team.
            history = await http.get("/api/v1/company/followers", headers=curator)
            assert history.status_code == 200, history.text
            assert [i["followers"] for i in history.json()["items"]] == [13680, 12000]
            other = await http.get(
                "/api/v1/company/followers", headers=_headers(ref("other"), "c", roles=["curator"])
            )
            assert other.json()["items"] == []

            # Clear errors, each naming its field; only admins record.
            future = datetime.now(UTC) + timedelta(days=2)
            cases = [
                (
                    {"network": "linkedin", "followers": 1, "measured_at": future.isoformat()},
                    "measured_at",
                ),
                ({"network": "linkedin", "followers": -1}, "followers"),
                ({"network": "myspace", "followers": 1}, "network"),
                (
                    {"network": "linkedin", "followers": 1, "measured_at": "2026-01-01T10:00"},
                    "measured_at",
                ),
            ]
            for body, field in cases:
                refused = await http.post("/api/v1/company/followers", headers=admin, json=body)
                assert refused.status_code == 422, (body, refused.text)
                assert refused.headers["content-type"].startswith("application/problem+json")
                assert field in refused.text, (body, refused.text)
            forbidden = await http.post(
                "/api/v1/company/followers", headers=curator, json={"network": "x", "followers": 5}
            )
            assert forbidden.status_code == 403
            employee = await http.get("/api/v1/company/followers", headers=_headers(tenant, "e1"))
            assert employee.status_code == 403

        seen: list[dict[str, object]] = []
        for _ in range(50):
            records = await measured.poll(0.2)
            seen = [r["data"] for r in records if r["tenantid"] == tenant]
            if len(seen) == 2:
                break
        assert sorted(int(str(d["followers"])) for d in seen) == [12000, 13680]
        assert {d["source"] for d in seen} == {"admin"}
        at = {int(str(d["followers"])): datetime.fromisoformat(str(d["measured_at"])) for d in seen}
        assert at[12000] == last_month
    finally:
        await measured.stop()
