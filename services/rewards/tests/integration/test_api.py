"""The rewards api against the real MongoDB server: rules, simulations, leaderboards,
clawbacks, errors."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from contracts import derived_event_id
from rewards.adapters.events import activity_doc
from rewards.adapters.mongo import pack_activities
from rewards.domain.rules import Action, Activity
from support import eventually, ref, token


def _standing(tenant: str, employee: str, earned: int, **extra: object) -> dict:
    now = datetime.now(UTC)
    return {
        "_id": f"{tenant}:{employee}",
        "tenant": tenant,
        "employee_id": employee,
        "earned": earned,
        "month_key": now.strftime("%Y-%m"),
        "month_points": earned,
        **extra,
    }


async def test_rule_versions_are_added_never_retroactive(rewards_api) -> None:
    tenant = ref("rules")
    admin = token(tenant, "a1", roles=("admin",))
    url = f"{rewards_api.url}/api/v1/rules"
    async with httpx.AsyncClient(timeout=30) as http:
        before = await http.get(url, headers=admin)
        assert [v["version"] for v in before.json()["versions"]] == [1]
        added = await http.post(url, headers=admin, json={"points": {"share": 20}})
        assert added.status_code == 201, added.text
        assert added.json()["version"] == 2
        past = await http.post(
            url,
            headers=admin,
            json={"points": {"share": 5}, "effective_from": "2020-01-01T00:00:00Z"},
        )
        assert past.status_code == 422
        assert "effective_from" in past.json()["detail"]
        bad = await http.post(url, headers=admin, json={"points": {"likes": 5}})
        assert bad.status_code == 422
        assert bad.headers["content-type"] == "application/problem+json"
        assert bad.json()["errors"][0]["field"].startswith("points")
        employee = await http.post(url, headers=token(tenant), json={"points": {"share": 1}})
        assert employee.status_code == 403
        versions = (await http.get(url, headers=admin)).json()["versions"]
        assert [v["version"] for v in versions] == [2]


async def test_leaderboard_top_and_my_rank_with_hidden_and_executives(
    rewards_api, rewards_db
) -> None:
    tenant = ref("board")
    docs = [_standing(tenant, f"e{i}", earned=i * 10, department="sales") for i in range(1, 11)]
    docs.append(_standing(tenant, "hidden", earned=1000))
    await rewards_db["profiles"].insert_one(
        {"_id": f"{tenant}:hidden", "tenant": tenant, "employee_id": "hidden", "hidden": True}
    )
    docs.append(_standing(tenant, "ceo", earned=500, groups=["exec"]))
    await rewards_db["standings"].insert_many(docs)
    admin = token(tenant, "a1", roles=("admin",))
    url = f"{rewards_api.url}/api/v1/leaderboards"
    async with httpx.AsyncClient(timeout=30) as http:
        settings = await http.put(
            f"{rewards_api.url}/api/v1/settings/leaderboards",
            headers=admin,
            json={"executive_groups": ["exec"]},
        )
        assert settings.status_code == 200

        async def board(who: str, **params: object) -> dict:
            answer = await http.get(url, headers=token(tenant, who), params=params)
            assert answer.status_code == 200, answer.text
            return answer.json()

        top = await eventually(lambda: board("e5", limit=3), lambda b: b["size"] == 10)
        assert [(r["rank"], r["employee_id"]) for r in top["top"]] == [
            (1, "e10"),
            (2, "e9"),
            (3, "e8"),
        ]
        assert top["me"]["rank"] == 6
        assert [r["employee_id"] for r in top["me"]["neighbours"]] == ["e7", "e6", "e5", "e4", "e3"]
        executives = await board("ceo", scope="executives")
        assert [r["employee_id"] for r in executives["top"]] == ["ceo"]
        department = await board("e1", period="month", scope="department", scope_id="sales")
        assert department["size"] == 10 and department["me"]["rank"] == 10
        assert (await board("hidden"))["me"] is None

        # Opt-in leaderboards rank only those who opted in.
        await http.put(
            f"{rewards_api.url}/api/v1/settings/leaderboards", headers=admin, json={"opt_in": True}
        )
        opted = await http.put(
            f"{rewards_api.url}/api/v1/me/leaderboard-visibility",
            headers=token(tenant, "e2"),
            json={"hidden": False, "opt_in": True},
        )
        assert opted.status_code == 200
        only = await eventually(lambda: board("e2"), lambda b: b["size"] == 1)
        assert only["me"]["rank"] == 1

        missing = await http.get(url, headers=token(tenant, "e1"), params={"scope": "department"})
        assert missing.status_code == 422 and "scope_id" in missing.json()["detail"]


async def test_a_clawback_reverses_an_award_once(rewards_api, rewards_db) -> None:
    tenant = ref("claw")
    now = datetime.now(UTC)
    award_id = derived_event_id("share", ref("event"))
    await rewards_db["standings"].insert_one(_standing(tenant, "e1", earned=30))
    await rewards_db["ledger"].insert_one(
        {
            "_id": award_id,
            "tenant": tenant,
            "employee_id": "e1",
            "points": 30,
            "rule_id": "share",
            "rule_version": 1,
            "reason": "shared a post",
            "source_event_id": "ev-1",
            "source_event_type": "io.chorus.post-shared.v1",
            "awarded_at": now,
        }
    )
    admin = token(tenant, "a1", roles=("admin",))
    url = f"{rewards_api.url}/api/v1/awards/{award_id}/clawback"
    async with httpx.AsyncClient(timeout=30) as http:
        first = await http.post(url, headers=admin, json={"reason": "click farm"})
        assert first.status_code == 201, first.text
        assert first.json()["points"] == -30
        again = await http.post(url, headers=admin, json={"reason": "click farm"})
        assert again.status_code == 201
        mine = await http.get(f"{rewards_api.url}/api/v1/me/points", headers=token(tenant, "e1"))
        body = mine.json()
        assert (body["balance"], body["earned"], body["clawed_back"]) == (0, 30, 30)
        assert sorted(e["points"] for e in body["recent"]) == [-30, 30]
        unknown = await http.post(
            f"{rewards_api.url}/api/v1/awards/nope/clawback",
            headers=admin,
            json={"reason": "x y z"},
        )
        assert unknown.status_code == 404
        denied = await http.post(url, headers=token(tenant, "e1"), json={"reason": "mine"})
        assert denied.status_code == 403


async def test_a_simulation_shows_what_proposed_rules_would_have_given(
    rewards_api, rewards_db
) -> None:
    tenant = ref("simulate")
    now = datetime.now(UTC)
    shares = [("e1", 1), ("e1", 2), ("e1", 3), ("e2", 1), ("e2", 2)]
    activities = [
        activity_doc(
            Activity(
                f"{tenant}-ev{n}",
                "io.chorus.post-shared.v1",
                employee,
                Action.SHARE,
                now - timedelta(days=days_ago),
                content_id=f"c{n}",
            )
        )
        for n, (employee, days_ago) in enumerate(shares)
    ]
    await rewards_db["activities"].insert_one(
        {
            "_id": f"{tenant}-batch",
            "tenant": tenant,
            "at": min(a["at"] for a in activities),
            "until": max(a["at"] for a in activities),
            "packed": pack_activities(activities),
        }
    )
    url = f"{rewards_api.url}/api/v1/rules/simulate"
    admin = token(tenant, "a1", roles=("admin",))
    async with httpx.AsyncClient(timeout=30) as http:
        simulated = await http.post(url, headers=admin, json={"rules": {"points": {"share": 20}}})
        assert simulated.status_code == 200, simulated.text
        body = simulated.json()
        assert body["activities"] == 5
        assert (body["current_total"], body["proposed_total"]) == (50, 100)
        assert body["biggest_changes"][0] == {"employee_id": "e1", "current": 30, "proposed": 60}
        backwards = await http.post(
            url,
            headers=admin,
            json={
                "rules": {"points": {"share": 20}},
                "start": now.isoformat(),
                "end": (now - timedelta(days=1)).isoformat(),
            },
        )
        assert backwards.status_code == 422
        assert backwards.headers["content-type"] == "application/problem+json"
        employee = await http.post(
            url, headers=token(tenant), json={"rules": {"points": {"share": 20}}}
        )
        assert employee.status_code == 403


async def test_my_leaderboard_visibility_reads_back_what_i_chose(rewards_api) -> None:
    tenant = ref("visible")
    employee = token(tenant, "e1")
    url = f"{rewards_api.url}/api/v1/me/leaderboard-visibility"
    async with httpx.AsyncClient(timeout=30) as http:
        before = await http.get(url, headers=employee)
        assert before.json() == {"hidden": False, "opt_in": None}
        put = await http.put(url, headers=employee, json={"hidden": True})
        assert put.status_code == 200, put.text
        after = await http.get(url, headers=employee)
        assert after.json() == {"hidden": True, "opt_in": None}
