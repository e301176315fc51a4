"""One tenant can never read or change another tenant's content: one check per endpoint."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from content_helpers import admin, article, curator

from contracts import PostShared, PostSharedData
from support import eventually, produce, ref, token

A, B = ref("ta"), ref("tb")


@pytest.fixture(scope="module")
async def theirs(hub) -> dict[str, str]:
    published = await hub.http.post("/api/v1/content", headers=curator(A), json=article())
    draft = await hub.http.post("/api/v1/content", headers=curator(A), json=article(draft=True))
    await hub.http.post(
        "/api/v1/guidelines", headers=admin(A), json={"title": "A's rules", "body": "x"}
    )
    await hub.http.put("/api/v1/settings", headers=admin(A), json={"disclosure_hashtag": "#a"})
    return {"published": published.json()["id"], "draft": draft.json()["id"]}


async def _a_item(hub, content_id: str) -> dict:
    return (await hub.http.get(f"/api/v1/content/{content_id}", headers=curator(A))).json()


@pytest.mark.parametrize("which", ["published", "draft"])
async def test_get_item(hub, theirs, which) -> None:
    for headers in (admin(B), token(B, "emp-1")):
        response = await hub.http.get(f"/api/v1/content/{theirs[which]}", headers=headers)
        assert response.status_code == 404


async def test_patch_item(hub, theirs) -> None:
    response = await hub.http.patch(
        f"/api/v1/content/{theirs['published']}", headers=admin(B), json={"title": "Mine now"}
    )
    assert response.status_code == 404
    assert (await _a_item(hub, theirs["published"]))["title"] == "Our new office"


async def test_transition_item(hub, theirs) -> None:
    response = await hub.http.post(
        f"/api/v1/content/{theirs['published']}/transitions",
        headers=admin(B),
        json={"action": "archive"},
    )
    assert response.status_code == 404
    assert (await _a_item(hub, theirs["published"]))["status"] == "published"


async def test_list_items(hub, theirs) -> None:
    mine = (await hub.http.post("/api/v1/content", headers=curator(B), json=article())).json()
    listed = await hub.http.get("/api/v1/content", headers=curator(B))
    assert [i["id"] for i in listed.json()["items"]] == [mine["id"]]
    theirs_listed = await hub.http.get("/api/v1/content", headers=curator(A))
    assert mine["id"] not in {i["id"] for i in theirs_listed.json()["items"]}


async def test_feed(hub, theirs) -> None:
    feed = await hub.http.get("/api/v1/feed", headers=token(B, "emp-1"))
    assert theirs["published"] not in {i["id"] for i in feed.json()["items"]}


async def test_shares_of_another_tenant_do_not_count(hub, theirs) -> None:
    for tenant in (B, A):
        event = PostShared.create(
            tenant_id=tenant,
            subject="s",
            data=PostSharedData(
                share_id=ref("s"),
                content_id=theirs["published"],
                employee_id="emp-1",
                network="x",
                short_code=ref("code"),
                tracked_url="https://go.example.com/l/abc",
                shared_at=datetime.now(UTC),
                method="intent",
            ),
        )
        # One key for both, so they share a partition and A's is consumed after B's.
        await produce(PostShared.topic, event.to_json(), key=f"{B}:emp-1".encode())
    # Once A's own share counts, B's was handled before it and counted nothing for A.
    await eventually(lambda: _a_item(hub, theirs["published"]), lambda i: i["shares"] >= 1)
    assert (await _a_item(hub, theirs["published"]))["shares"] == 1
    feed = await hub.http.get("/api/v1/feed", headers=token(B, "emp-1"))
    assert all(not i["shared"] for i in feed.json()["items"])


async def test_guidelines(hub, theirs) -> None:
    employee = token(B, "emp-1")
    assert (await hub.http.get("/api/v1/guidelines/current", headers=employee)).status_code == 404
    assert (await hub.http.get("/api/v1/guidelines/1", headers=employee)).status_code == 404
    ack = await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=employee)
    assert ack.status_code == 404
    assert (await hub.http.get("/api/v1/guidelines", headers=curator(B))).json()["items"] == []
    own = await hub.http.post(
        "/api/v1/guidelines", headers=admin(B), json={"title": "B's rules", "body": "y"}
    )
    assert own.json()["version"] == 1
    a_current = await hub.http.get("/api/v1/guidelines/current", headers=token(A, "emp-1"))
    assert a_current.json()["title"] == "A's rules"


async def test_settings(hub, theirs) -> None:
    assert (await hub.http.get("/api/v1/settings", headers=admin(B))).json() == {
        "disclosure_hashtag": None
    }
    await hub.http.put("/api/v1/settings", headers=admin(B), json={"disclosure_hashtag": "#b"})
    assert (await hub.http.get("/api/v1/settings", headers=admin(A))).json() == {
        "disclosure_hashtag": "#a"
    }
