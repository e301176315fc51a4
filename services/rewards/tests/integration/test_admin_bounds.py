"""Every number an admin sends has a bound: too large a value is a 422 naming the field,
never a 500 from a database that stores 8-byte integers at most."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest

from support import ref, token

NOW = datetime.now(UTC)
CHALLENGE = {
    "challenge_id": "jobs",
    "name": "Share 3 job posts",
    "action": "share",
    "target": 3,
    "starts_at": NOW.isoformat(),
    "ends_at": (NOW + timedelta(days=30)).isoformat(),
}
ITEM = {"name": "Chorus mug", "price": 10, "stock": 5}

# (method, path, body with the value put in, the field the problem names)
FIELDS = [
    ("POST", "/api/v1/rules", lambda v: {"points": {"share": v}}, "points.share"),
    (
        "POST",
        "/api/v1/rules",
        lambda v: {"points": {"share": 1}, "daily_caps": {"click": v}},
        "daily_caps.click",
    ),
    ("POST", "/api/v1/rules", lambda v: {"points": {"share": 1}, "daily_max": v}, "daily_max"),
    (
        "POST",
        "/api/v1/rules",
        lambda v: {"points": {"share": 1}, "multipliers": [{"factor": v}]},
        "multipliers[0].factor",
    ),
    (
        "POST",
        "/api/v1/rules/simulate",
        lambda v: {"rules": {"points": {"share": 1}, "daily_caps": {"share": v}}},
        "rules.daily_caps.share",
    ),
    (
        "POST",
        "/api/v1/rules/simulate",
        lambda v: {"rules": {"points": {"share": 1}, "daily_max": v}},
        "rules.daily_max",
    ),
    ("POST", "/api/v1/challenges", lambda v: {**CHALLENGE, "target": v}, "target"),
    ("POST", "/api/v1/challenges", lambda v: {**CHALLENGE, "bonus": v}, "bonus"),
    ("PUT", "/api/v1/catalog/mug", lambda v: {**ITEM, "price": v}, "price"),
    ("PUT", "/api/v1/catalog/mug", lambda v: {**ITEM, "stock": v}, "stock"),
]


@pytest.mark.parametrize("value", [2**63, 10**30], ids=["2^63", "10^30"])
@pytest.mark.parametrize(
    ("method", "path", "body", "field"), FIELDS, ids=[f"{m} {p} {f}" for m, p, _, f in FIELDS]
)
async def test_too_large_a_number_is_a_422_naming_the_field(
    rewards_api, method: str, path: str, body, field: str, value: int
) -> None:
    admin = token(ref("bounds"), "a1", roles=("admin",))
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.request(
            method, f"{rewards_api.url}{path}", headers=admin, json=body(value)
        )
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in answer.json()["errors"]] == [field]


async def test_the_largest_daily_figures_are_taken(rewards_api) -> None:
    tenant = ref("bounds")
    admin = token(tenant, "a1", roles=("admin",))
    rules = {"points": {"share": 100_000}, "daily_caps": {"share": 100_000}, "daily_max": 1_000_000}
    async with httpx.AsyncClient(timeout=30) as http:
        added = await http.post(f"{rewards_api.url}/api/v1/rules", headers=admin, json=rules)
        assert added.status_code == 201, added.text
        listed = await http.get(f"{rewards_api.url}/api/v1/rules", headers=admin)
        latest = listed.json()["versions"][-1]
        assert (latest["daily_caps"], latest["daily_max"]) == ({"share": 100_000}, 1_000_000)
