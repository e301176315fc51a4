"""The content hub's own processes: a scheduled item goes live on time with nobody asking,
and a PostShared on Kafka comes back as popularity and a "shared" mark in the feed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from contracts import PostShared, PostSharedData
from support import eventually, produce, ref, token


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

        shared = PostShared.create(
            tenant_id=tenant,
            subject="share-1",
            data=PostSharedData(
                share_id=ref("s"),
                content_id=item["id"],
                employee_id="emp-1",
                network="linkedin",
                short_code=ref("code"),
                tracked_url="https://go.example.com/l/abc",
                shared_at=datetime.now(UTC),
                method="intent",
            ),
        )
        await produce(PostShared.topic, shared.to_json(), key=shared.partition_key().encode())
        # The platform's content worker is a fresh consumer group: before this share it
        # reads every PostShared already on the topic, from other tests and runs.
        learned = await eventually(
            feed,
            lambda items: bool(items) and items[0]["shared"] and items[0]["shares"] == 1,
            timeout=120,
        )
        assert learned[0]["id"] == item["id"]
