"""Concurrent redemptions against the real api and MongoDB server: never overspent, never
oversold."""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx

from support import ref, token


async def _seed_balance(db, tenant: str, employee: str, balance: int) -> None:
    await db["standings"].insert_one(
        {
            "_id": f"{tenant}:{employee}",
            "tenant": tenant,
            "employee_id": employee,
            "earned": balance,
        }
    )


async def _put_item(http: httpx.AsyncClient, url: str, tenant: str, stock: int) -> None:
    admin = token(tenant, "admin-1", roles=("admin",))
    put = await http.put(
        f"{url}/api/v1/catalog/mug",
        headers=admin,
        json={"name": "Chorus mug", "price": 10, "stock": stock},
    )
    assert put.status_code == 200, put.text


async def test_200_concurrent_redemptions_against_a_balance_for_50(rewards_api, rewards_db) -> None:
    tenant = ref("redeem")
    await _seed_balance(rewards_db, tenant, "e1", 500)
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as http:
        await _put_item(http, rewards_api.url, tenant, stock=1000)
        employee = token(tenant, "e1")
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{rewards_api.url}/api/v1/redemptions",
                    headers=employee,
                    json={"item_id": "mug"},
                )
                for _ in range(200)
            )
        )
        statuses = Counter(a.status_code for a in answers)
        assert statuses == {201: 50, 409: 150}, statuses
        refused = next(a for a in answers if a.status_code == 409)
        assert refused.headers["content-type"] == "application/problem+json"
        assert "item_id" in refused.json()["detail"]
        mine = await http.get(f"{rewards_api.url}/api/v1/me/points", headers=employee)
        assert (mine.json()["balance"], mine.json()["spent"]) == (0, 500)
        items = (await http.get(f"{rewards_api.url}/api/v1/catalog", headers=employee)).json()
        assert items["items"][0]["stock"] == 950


async def test_200_concurrent_redemptions_against_a_stock_of_50(rewards_api, rewards_db) -> None:
    tenant = ref("stock")
    employees = [f"e{i}" for i in range(200)]
    await rewards_db["standings"].insert_many(
        [
            {"_id": f"{tenant}:{e}", "tenant": tenant, "employee_id": e, "earned": 100}
            for e in employees
        ]
    )
    async with httpx.AsyncClient(timeout=60, limits=httpx.Limits(max_connections=200)) as http:
        await _put_item(http, rewards_api.url, tenant, stock=50)
        answers = await asyncio.gather(
            *(
                http.post(
                    f"{rewards_api.url}/api/v1/redemptions",
                    headers=token(tenant, e),
                    json={"item_id": "mug"},
                )
                for e in employees
            )
        )
        assert Counter(a.status_code for a in answers) == {201: 50, 409: 150}
        balances = []
        for e in employees:
            mine = await http.get(f"{rewards_api.url}/api/v1/me/points", headers=token(tenant, e))
            balances.append(mine.json()["balance"])
        assert sorted(balances) == [90] * 50 + [100] * 150
        items = await http.get(f"{rewards_api.url}/api/v1/catalog", headers=token(tenant, "e0"))
        assert items.json()["items"][0]["stock"] == 0


async def test_an_unknown_item_is_a_404_problem(rewards_api) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        answer = await http.post(
            f"{rewards_api.url}/api/v1/redemptions",
            headers=token(ref("t")),
            json={"item_id": "nothing"},
        )
    assert answer.status_code == 404
    assert answer.headers["content-type"] == "application/problem+json"


async def test_my_redemptions_list_what_i_redeemed_newest_first(rewards_api, rewards_db) -> None:
    tenant = ref("mine")
    await _seed_balance(rewards_db, tenant, "e1", 25)
    async with httpx.AsyncClient(timeout=30) as http:
        await _put_item(http, rewards_api.url, tenant, stock=2)
        employee = token(tenant, "e1")
        url = f"{rewards_api.url}/api/v1"
        first = await http.post(f"{url}/redemptions", headers=employee, json={"item_id": "mug"})
        second = await http.post(f"{url}/redemptions", headers=employee, json={"item_id": "mug"})
        # Out of stock: charged, then refunded, so not a redemption.
        refused = await http.post(f"{url}/redemptions", headers=employee, json={"item_id": "mug"})
        assert (first.status_code, second.status_code, refused.status_code) == (201, 201, 409)
        mine = await http.get(f"{url}/me/redemptions", headers=employee)
        assert mine.status_code == 200, mine.text
        found = mine.json()["redemptions"]
        assert [r["redemption_id"] for r in found] == [
            second.json()["redemption_id"],
            first.json()["redemption_id"],
        ]
        assert {(r["item_id"], r["name"], r["points"]) for r in found} == {
            ("mug", "Chorus mug", 10)
        }
        assert found[0]["at"] >= found[1]["at"]
        others = await http.get(f"{url}/me/redemptions", headers=token(tenant, "e2"))
        assert others.json() == {"redemptions": []}
