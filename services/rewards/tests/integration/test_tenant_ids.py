"""Tenant ids cannot contain ':', so "<tenant>:<item id>" keys never cross tenants: without
the pattern, tenant "a" naming item "b:mug" reached tenant "a:b"'s item "mug"."""

from __future__ import annotations

import httpx

from support import ref, token


async def test_a_tenant_cannot_reach_an_item_of_a_tenant_named_after_it(rewards_api) -> None:
    tenant = ref("split")
    async with httpx.AsyncClient(base_url=rewards_api.url) as client:
        # The token of a tenant with ':' in its id is refused before anything is stored.
        put = await client.put(
            "/api/v1/catalog/mug",
            json={"name": "Chorus mug", "price": 10, "stock": 5},
            headers=token(f"{tenant}:b", sub="admin", roles=("employee", "admin")),
        )
        assert put.status_code == 401, put.text
        assert put.headers["content-type"] == "application/problem+json"
        assert put.json()["detail"].startswith("claim 'tenant' ")

        # So tenant `tenant`, naming the item "b:mug", finds nothing of anyone else's.
        redeem = await client.post(
            "/api/v1/redemptions", json={"item_id": "b:mug"}, headers=token(tenant)
        )
        assert redeem.status_code == 404, redeem.text
        assert redeem.headers["content-type"] == "application/problem+json"
        catalog = await client.get("/api/v1/catalog", headers=token(tenant))
        assert catalog.json() == {"items": []}
