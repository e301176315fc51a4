"""Leaders go first: a leader's own post, shared through Chorus, reaches every colleague's
feed once, however many networks it went to; nobody else's own post does."""

from __future__ import annotations

from datetime import UTC, datetime

from content_helpers import employee

from contracts import PostShared, PostSharedData
from support import eventually, produce, ref

POST = "https://www.linkedin.com/posts/ceo_why-i-joined-activity-7"


async def _own_post(
    tenant: str, employee_id: str, network: str, *, leader: bool, url: str = POST
) -> None:
    event = PostShared.create(
        tenant_id=tenant,
        subject=ref("s"),
        data=PostSharedData(
            share_id=ref("s"),
            content_id=None,
            employee_id=employee_id,
            network=network,
            short_code=ref("code"),
            tracked_url="https://go.example.com/l/abc",
            shared_at=datetime.now(UTC),
            method="intent",
            by_leader=leader,
            post_url=url if leader else None,
            post_title="Why I joined, and why you should too" if leader else None,
        ),
    )
    await produce(PostShared.topic, event.to_json(), key=event.partition_key().encode())


async def test_a_leaders_own_post_reaches_colleagues_once(hub) -> None:
    tenant = ref("leaders")
    colleague = employee(tenant, "dev-1", groups=("engineering",), languages=("en",))
    # Another person's own post first, and the leader's to two networks after it.
    await _own_post(tenant, "dev-2", "linkedin", leader=False, url="https://example.com/x")
    await _own_post(tenant, "ceo", "linkedin", leader=True)
    await _own_post(tenant, "ceo", "x", leader=True)

    async def feed() -> list[dict]:
        reply = await hub.http.get("/api/v1/feed", headers=colleague)
        assert reply.status_code == 200, reply.text
        return list(reply.json()["items"])

    items = await eventually(feed, lambda found: len(found) >= 1, timeout=30)
    # Both of the leader's shares are in before the feed is read again.
    await _own_post(tenant, "ceo", "linkedin", leader=True, url="https://example.com/marker")
    items = await eventually(feed, lambda found: len(found) >= 2, timeout=30)
    posts = [i for i in items if i["url"] == POST]
    assert len(posts) == 1, items
    post = posts[0]
    assert post["title"] == "Why I joined, and why you should too"
    assert post["topics"] == ["leaders"]
    assert post["kind"] == "article"
    assert not any(i["url"] == "https://example.com/x" for i in items)
