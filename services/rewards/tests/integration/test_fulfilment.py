"""The program team's list of redemptions and marking one fulfilled, against the real api
and MongoDB server: once, whoever marks it and however often."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from support import ref, token


async def _redeem_two(http: httpx.AsyncClient, url: str, db, tenant: str) -> list[str]:
    for employee in ("e1", "e2"):
        await db["standings"].insert_one(
            {"_id": f"{tenant}:{employee}", "tenant": tenant, "employee_id": employee, "earned": 30}
        )
    admin = token(tenant, "admin-1", roles=("admin",))
    put = await http.put(
        f"{url}/api/v1/catalog/mug",
        headers=admin,
        json={"name": "Chorus mug", "price": 10, "stock": 5},
    )
    assert put.status_code == 200, put.text
    ids = []
    for employee in ("e1", "e2"):
        answer = await http.post(
            f"{url}/api/v1/redemptions", headers=token(tenant, employee), json={"item_id": "mug"}
        )
        assert answer.status_code == 201, answer.text
        ids.append(answer.json()["redemption_id"])
    return ids


async def test_the_admin_lists_redemptions_and_marks_one_fulfilled_once(
    rewards_api, rewards_db
) -> None:
    tenant = ref("fulfil")
    admin = token(tenant, "admin-1", roles=("admin",))
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=50)) as http:
        url = rewards_api.url
        first, second = await _redeem_two(http, url, rewards_db, tenant)
        listed = await http.get(f"{url}/api/v1/admin/redemptions", headers=admin)
        assert listed.status_code == 200, listed.text
        found = listed.json()["redemptions"]
        assert [(r["redemption_id"], r["employee_id"], r["status"]) for r in found] == [
            (second, "e2", "to_fulfil"),
            (first, "e1", "to_fulfil"),
        ]
        assert {(r["name"], r["points"]) for r in found} == {("Chorus mug", 10)}

        # Twenty clicks at once, by two admins: one mark, the same answer to all.
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{url}/api/v1/admin/redemptions/{first}/fulfil",
                    headers=token(tenant, f"admin-{i % 2 + 1}", roles=("admin",)),
                )
                for i in range(20)
            )
        )
        assert Counter(a.status_code for a in answers) == {200: 20}
        marks = {(a.json()["fulfilled_by"], a.json()["fulfilled_at"]) for a in answers}
        assert len(marks) == 1
        assert answers[0].json()["status"] == "fulfilled"
        assert await rewards_db["fulfilments"].count_documents({"tenant": tenant}) == 1

        again = await http.post(f"{url}/api/v1/admin/redemptions/{first}/fulfil", headers=admin)
        assert (again.json()["fulfilled_by"], again.json()["fulfilled_at"]) == marks.pop()

        to_do = await http.get(
            f"{url}/api/v1/admin/redemptions", headers=admin, params={"status": "to_fulfil"}
        )
        assert [r["redemption_id"] for r in to_do.json()["redemptions"]] == [second]
        done = await http.get(
            f"{url}/api/v1/admin/redemptions", headers=admin, params={"status": "fulfilled"}
        )
        assert [r["redemption_id"] for r in done.json()["redemptions"]] == [first]
        # Fulfilling changes neither the stock nor anyone's balance.
        items = (await http.get(f"{url}/api/v1/catalog", headers=admin)).json()["items"]
        assert items[0]["stock"] == 3
        mine = await http.get(f"{url}/api/v1/me/points", headers=token(tenant, "e1"))
        assert (mine.json()["balance"], mine.json()["spent"]) == (20, 10)


async def test_only_admins_see_or_fulfil_and_unknown_ids_are_404(rewards_api, rewards_db) -> None:
    tenant = ref("fulfil-who")
    async with httpx.AsyncClient(timeout=30) as http:
        url = rewards_api.url
        first, _ = await _redeem_two(http, url, rewards_db, tenant)
        employee = token(tenant, "e1")
        listed = await http.get(f"{url}/api/v1/admin/redemptions", headers=employee)
        marked = await http.post(f"{url}/api/v1/admin/redemptions/{first}/fulfil", headers=employee)
        assert (listed.status_code, marked.status_code) == (403, 403)
        admin = token(tenant, "admin-1", roles=("admin",))
        unknown = await http.post(f"{url}/api/v1/admin/redemptions/nothing/fulfil", headers=admin)
        assert unknown.status_code == 404
        assert unknown.headers["content-type"] == "application/problem+json"
        # Another tenant's admin finds nothing of this one.
        other = token(ref("other"), "admin-1", roles=("admin",))
        elsewhere = await http.post(f"{url}/api/v1/admin/redemptions/{first}/fulfil", headers=other)
        assert elsewhere.status_code == 404
        assert (await http.get(f"{url}/api/v1/admin/redemptions", headers=other)).json() == {
            "redemptions": []
        }


async def test_leaderboard_settings_read_back_what_was_put(rewards_api) -> None:
    tenant = ref("boards")
    admin = token(tenant, "admin-1", roles=("admin",))
    async with httpx.AsyncClient(timeout=30) as http:
        url = f"{rewards_api.url}/api/v1/settings/leaderboards"
        before = await http.get(url, headers=admin)
        assert before.json() == {"opt_in": False, "executive_groups": []}
        body = {"opt_in": True, "executive_groups": ["leadership"]}
        assert (await http.put(url, headers=admin, json=body)).status_code == 200
        assert (await http.get(url, headers=admin)).json() == body
        assert (await http.get(url, headers=token(tenant, "e1"))).status_code == 403
