"""No request waits for a cold leaderboard: after a start, the api loads every tenant's
snapshot before it says it is ready, and the first request is served from it."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import httpx

from support import ServiceProcess, ref, token


def _standing(tenant: str, employee: str, earned: int) -> dict:
    return {
        "_id": f"{tenant}:{employee}",
        "tenant": tenant,
        "employee_id": employee,
        "earned": earned,
        "month_key": datetime.now(UTC).strftime("%Y-%m"),
        "month_points": earned,
    }


async def test_the_api_is_ready_once_the_leaderboards_are_loaded(
    rewards_database: str, rewards_db, tmp_path: Path
) -> None:
    tenant = ref("warm")
    await rewards_db["standings"].insert_many(
        [_standing(tenant, f"e{n}", 10 * n) for n in range(1, 21)]
    )
    api = ServiceProcess(
        "rewards",
        "api",
        env={"REWARDS_DATABASE": rewards_database, "REWARDS_LEADERBOARD_REFRESH_SECONDS": "3600"},
    ).start(tmp_path)
    try:
        await asyncio.to_thread(api.wait_healthy)
        loaded = [
            line
            for line in api.log_tail(400).splitlines()
            if "leaderboards loaded" in line and tenant in line
        ]
        assert loaded, api.log_tail()
        # Written after the start: a request that loaded the snapshot itself would show it.
        await rewards_db["standings"].insert_one(_standing(tenant, "late", 10_000))
        async with httpx.AsyncClient(timeout=30) as http:
            answer = await http.get(
                f"{api.url}/api/v1/leaderboards", headers=token(tenant, "e1"), params={"limit": 5}
            )
        assert answer.status_code == 200, answer.text
        top = [row["employee_id"] for row in answer.json()["top"]]
        assert top == ["e20", "e19", "e18", "e17", "e16"]
    finally:
        api.stop()
