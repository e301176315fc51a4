"""The content hub's processes: a scheduled item goes live on time with nobody asking, and
a share made through the share service comes back as popularity and a "shared" mark."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from support import eventually, ref, token


async def test_scheduled_item_goes_live_and_learns_from_its_shares(platform) -> None:
    tenant = ref("hub")
    curator = token(tenant, "curator-1", roles=("curator",))
    employee = token(tenant, "emp-1", groups=("sales",))
    content = platform.url("content")
    async with httpx.AsyncClient(timeout=10) as http:
        created = await http.post(
            f"{content}/api/v1/content",
            headers=curator,
            json={
                "title": "Our engineering blog turns ten",
                "kind": "article",
                "url": "https://blog.example.com/ten-years",
                "publish_at": (datetime.now(UTC) + timedelta(seconds=2)).isoformat(),
                "audience": {"groups": ["sales"]},
            },
        )
        assert created.status_code == 201, created.text
        item = created.json()
        assert item["status"] == "scheduled"

        async def feed() -> list[dict]:
            response = await http.get(f"{content}/api/v1/feed", headers=employee)
            return response.json()["items"]

        # The content worker publishes it on time; no request makes it happen.
        live = await eventually(feed, lambda items: [i["id"] for i in items] == [item["id"]])
        assert live[0]["shared"] is False and live[0]["shares"] == 0
        outsider = token(tenant, "emp-2", groups=("hr",))
        hidden = await http.get(f"{content}/api/v1/content/{item['id']}", headers=outsider)
        assert hidden.status_code == 404

        joined = await http.post(
            f"{platform.url('share')}/api/v1/advocates/me", headers=employee, json={"accept": True}
        )
        assert joined.status_code == 201, joined.text

        async def share() -> httpx.Response:
            return await http.post(
                f"{platform.url('share')}/api/v1/shares",
                headers=employee,
                json={"content_id": item["id"], "network": "linkedin"},
            )

        await eventually(share, lambda r: r.status_code == 201)
        shared = await eventually(
            feed, lambda items: bool(items) and items[0]["shared"] and items[0]["shares"] == 1
        )
        assert shared[0]["id"] == item["id"]
