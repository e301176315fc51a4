"""Challenges against the real api and MongoDB server: an id is stored once, however many
requests create it at the same time."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import UTC, datetime, timedelta

import httpx

from support import ref, token


def _challenge(challenge_id: str, **extra: object) -> dict[str, object]:
    now = datetime.now(UTC)
    return {
        "challenge_id": challenge_id,
        "name": "Share 3 job posts",
        "action": "share",
        "target": 3,
        "starts_at": now.isoformat(),
        "ends_at": (now + timedelta(days=30)).isoformat(),
        **extra,
    }


async def test_concurrent_creates_of_one_challenge_id_store_it_once(rewards_api) -> None:
    tenant = ref("challenge")
    admin = token(tenant, "a1", roles=("admin",))
    url = f"{rewards_api.url}/api/v1/challenges"
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=20)) as http:
        answers = await asyncio.gather(
            *(
                http.post(url, headers=admin, json=_challenge("jobs", name=f"Jobs {n}"))
                for n in range(10)
            )
        )
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {201: 1, 409: 9}, [a.text for a in answers]
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.headers["content-type"] == "application/problem+json"
        assert refused.json()["detail"].startswith("challenge_id:")
        listed = await http.get(f"{rewards_api.url}/api/v1/me/challenges", headers=token(tenant))
        assert listed.status_code == 200, listed.text
        challenges = listed.json()["challenges"]
        assert [c["challenge_id"] for c in challenges] == ["jobs"]
        won = next(a for a in answers if a.status_code == 201).json()
        assert challenges[0]["name"] == won["name"]
        assert set(challenges[0]) == set(won) | {"progress"}


async def test_concurrent_creates_of_different_challenges_keep_every_one(rewards_api) -> None:
    tenant = ref("challenges")
    admin = token(tenant, "a1", roles=("admin",))
    url = f"{rewards_api.url}/api/v1/challenges"
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=20)) as http:
        answers = await asyncio.gather(
            *(http.post(url, headers=admin, json=_challenge(f"c{n}")) for n in range(10))
        )
        assert [a.status_code for a in answers] == [201] * 10, [a.text for a in answers]
        listed = await http.get(f"{rewards_api.url}/api/v1/me/challenges", headers=token(tenant))
        assert sorted(c["challenge_id"] for c in listed.json()["challenges"]) == sorted(
            f"c{n}" for n in range(10)
        )


async def test_challenges_stored_before_are_still_listed_and_taken(rewards_api, rewards_db) -> None:
    """Challenges used to be kept in the tenant's document; those are still there."""
    tenant = ref("legacy")
    now = datetime.now(UTC)
    await rewards_db["tenants"].insert_one(
        {
            "_id": tenant,
            "challenges": [
                {
                    "challenge_id": "old",
                    "name": "Old one",
                    "action": "share",
                    "target": 2,
                    "starts_at": now,
                    "ends_at": now + timedelta(days=7),
                    "content_kind": None,
                    "bonus": 0,
                    "created_at": now,
                }
            ],
        }
    )
    admin = token(tenant, "a1", roles=("admin",))
    url = f"{rewards_api.url}/api/v1/challenges"
    async with httpx.AsyncClient(timeout=30) as http:
        again = await http.post(url, headers=admin, json=_challenge("old"))
        assert again.status_code == 409, again.text
        assert again.headers["content-type"] == "application/problem+json"
        assert "challenge_id" in again.json()["detail"]
        added = await http.post(url, headers=admin, json=_challenge("new"))
        assert added.status_code == 201, added.text
        listed = await http.get(f"{rewards_api.url}/api/v1/me/challenges", headers=token(tenant))
        assert [c["challenge_id"] for c in listed.json()["challenges"]] == ["old", "new"]
        assert listed.json()["challenges"][0]["progress"] == 0
