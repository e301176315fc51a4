"""An employee's own leaderboard choice shows at once, without making the api load and
sort the tenant's leaderboards again; only admins' settings do that."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import httpx
import pytest

from support import ServiceProcess, ref, token


@pytest.fixture(scope="module")
def slow_refresh_api(
    rewards_database: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceProcess]:
    """A rewards api that keeps its leaderboard snapshots for an hour: whatever a board
    shows of a standing written after it was loaded, a request made it load again."""
    api = ServiceProcess(
        "rewards",
        "api",
        env={"REWARDS_DATABASE": rewards_database, "REWARDS_LEADERBOARD_REFRESH_SECONDS": "3600"},
    ).start(tmp_path_factory.mktemp("rewards-api-slow"))
    try:
        api.wait_healthy()
        yield api
    finally:
        api.stop()


def _standing(tenant: str, employee: str, earned: int) -> dict:
    return {
        "_id": f"{tenant}:{employee}",
        "tenant": tenant,
        "employee_id": employee,
        "earned": earned,
        "month_key": datetime.now(UTC).strftime("%Y-%m"),
        "month_points": earned,
        "groups": ["team-1"],
    }


async def test_an_employee_s_choice_moves_their_row_and_rebuilds_nothing(
    slow_refresh_api, rewards_db
) -> None:
    tenant = ref("choice")
    await rewards_db["standings"].insert_many(
        [_standing(tenant, e, points) for e, points in (("e1", 30), ("e2", 20), ("e3", 10))]
    )
    api = slow_refresh_api.url
    async with httpx.AsyncClient(timeout=30) as http:

        async def board(**params: object) -> list[tuple[int, str]]:
            answer = await http.get(
                f"{api}/api/v1/leaderboards", headers=token(tenant, "e2"), params=params
            )
            assert answer.status_code == 200, answer.text
            return [(r["rank"], r["employee_id"]) for r in answer.json()["top"]]

        async def choose(employee: str, **choice: object) -> None:
            answer = await http.put(
                f"{api}/api/v1/me/leaderboard-visibility",
                headers=token(tenant, employee),
                json=choice,
            )
            assert answer.status_code == 200, answer.text

        everyone = [(1, "e1"), (2, "e2"), (3, "e3")]
        assert await board() == everyone
        assert await board(period="month", scope="team", scope_id="team-1") == everyone
        # Written behind the api's back: only a full reload of the tenant would show it.
        await rewards_db["standings"].insert_one(_standing(tenant, "late", 100))

        await choose("e1", hidden=True)
        assert await board() == [(1, "e2"), (2, "e3")]
        assert await board(period="month", scope="team", scope_id="team-1") == [
            (1, "e2"),
            (2, "e3"),
        ]
        await choose("e1", hidden=False)
        await choose("e3", hidden=True)
        await choose("e3", hidden=False)
        assert await board() == everyone
        assert await board(period="month", scope="team", scope_id="team-1") == everyone

        # An admin's change of settings reloads the tenant: the late standing shows.
        settings = await http.put(
            f"{api}/api/v1/settings/leaderboards",
            headers=token(tenant, "a1", roles=("admin",)),
            json={"opt_in": False},
        )
        assert settings.status_code == 200, settings.text
        assert await board() == [(1, "late"), *((r + 1, e) for r, e in everyone)]
