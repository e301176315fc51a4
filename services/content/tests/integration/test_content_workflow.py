"""The workflow end to end: every transition, roles, the events each emits, and the clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from content_helpers import admin, article, curator, events_of

from content.service_layer.handlers import run_schedule
from contracts.topics import CONTENT_PUBLISHED, CONTENT_RETIRED, CONTENT_UPDATED
from support import eventually, ref, token


async def _move(hub, headers, content_id: str, action: str, status: int = 200):
    response = await hub.http.post(
        f"/api/v1/content/{content_id}/transitions", headers=headers, json={"action": action}
    )
    assert response.status_code == status, response.text
    return response.json()


async def test_every_transition_and_the_events_it_emits(hub) -> None:
    tenant = ref("wf")
    cur = curator(tenant)
    created = await hub.http.post("/api/v1/content", headers=cur, json=article(draft=True))
    assert created.status_code == 201, created.text
    item = created.json()
    cid = item["id"]
    assert item["status"] == "draft"

    assert (await _move(hub, cur, cid, "submit"))["status"] == "in_review"
    assert (await _move(hub, cur, cid, "reject"))["status"] == "draft"
    await _move(hub, cur, cid, "submit")
    published = await _move(hub, cur, cid, "approve")
    assert published["status"] == "published" and published["approved_by"] == "cur-1"

    edited = await hub.http.patch(
        f"/api/v1/content/{cid}", headers=cur, json={"title": "Our new office in Lyon"}
    )
    assert edited.status_code == 200 and edited.json()["title"] == "Our new office in Lyon"

    assert (await _move(hub, cur, cid, "withdraw"))["status"] == "draft"
    assert (await _move(hub, cur, cid, "approve"))["status"] == "published"
    assert (await _move(hub, cur, cid, "archive"))["status"] == "archived"

    # Refused moves are a 409 problem that says where the item is.
    refused = await hub.http.post(
        f"/api/v1/content/{cid}/transitions", headers=cur, json={"action": "submit"}
    )
    assert refused.status_code == 409
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.json()["status_now"] == "archived"
    assert (
        await hub.http.patch(f"/api/v1/content/{cid}", headers=cur, json={"title": "x"})
    ).status_code == 409

    published_events = await events_of(CONTENT_PUBLISHED, tenant, at_least=2)
    assert [e["data"]["title"] for e in published_events] == [
        "Our new office",
        "Our new office in Lyon",
    ]
    assert all(
        e["subject"] == cid and e["data"]["published_by"] == "cur-1" for e in published_events
    )
    [updated] = await events_of(CONTENT_UPDATED, tenant)
    assert updated["data"]["changed_fields"] == ["title"]
    assert updated["data"]["title"] == "Our new office in Lyon"
    retired = await events_of(CONTENT_RETIRED, tenant, at_least=2)
    assert [e["data"]["reason"] for e in retired] == ["withdrawn", "archived"]
    assert {e["data"]["retired_by"] for e in retired} == {"cur-1"}


async def test_scheduled_and_expired_items_move_through_archive(hub, monkeypatch) -> None:
    tenant = ref("wf")
    cur = admin(tenant)
    start = datetime.now(UTC)
    later = (start + timedelta(hours=1)).isoformat()
    item = (
        await hub.http.post("/api/v1/content", headers=cur, json=article(publish_at=later))
    ).json()
    assert item["status"] == "scheduled"
    assert (await _move(hub, cur, item["id"], "withdraw"))["status"] == "draft"
    await _move(hub, cur, item["id"], "approve")
    assert (await _move(hub, cur, item["id"], "archive"))["status"] == "archived"

    short = (
        await hub.http.post(
            "/api/v1/content",
            headers=cur,
            json=article(expires_at=(start + timedelta(hours=1)).isoformat()),
        )
    ).json()
    monkeypatch.setattr(hub.services, "clock", lambda: start + timedelta(hours=2))
    await run_schedule(hub.services)
    expired = (await hub.http.get(f"/api/v1/content/{short['id']}", headers=cur)).json()
    assert expired["status"] == "expired"
    assert (await _move(hub, cur, short["id"], "archive"))["status"] == "archived"
    # Archiving what already left the feed announces nothing new: only the expiry.
    retired = await events_of(CONTENT_RETIRED, tenant)
    assert [(e["subject"], e["data"]["reason"]) for e in retired] == [(short["id"], "expired")]


async def test_employee_suggestions_enter_as_drafts_for_review(hub) -> None:
    tenant = ref("wf")
    author = token(tenant, "emp-1")
    other = token(tenant, "emp-2")
    created = await hub.http.post(
        "/api/v1/content",
        headers=author,
        json={"title": "We ran a hackathon", "kind": "internal", "body": "It was fun"},
    )
    assert created.status_code == 201, created.text
    suggestion = created.json()
    cid = suggestion["id"]
    assert suggestion["status"] == "draft" and suggestion["suggestion"] is True

    # Only the author sees it, edits it and sends it to review; curators decide.
    assert (await hub.http.get(f"/api/v1/content/{cid}", headers=other)).status_code == 404
    edited = await hub.http.patch(f"/api/v1/content/{cid}", headers=author, json={"summary": "Fun"})
    assert edited.status_code == 200
    assert (await _move(hub, author, cid, "approve", status=403))["status"] == 403
    assert (await _move(hub, author, cid, "submit"))["status"] == "in_review"
    assert (
        await hub.http.patch(f"/api/v1/content/{cid}", headers=author, json={"summary": "x"})
    ).status_code == 403
    listed = await hub.http.get("/api/v1/content?status=in_review", headers=curator(tenant))
    assert [i["id"] for i in listed.json()["items"]] == [cid]
    approved = await _move(hub, curator(tenant), cid, "approve")
    assert approved["status"] == "published" and approved["created_by"] == "emp-1"
    [event] = await events_of(CONTENT_PUBLISHED, tenant)
    assert event["data"]["published_by"] == "cur-1"
    feed = await hub.http.get("/api/v1/feed", headers=other)
    assert [i["id"] for i in feed.json()["items"]] == [cid]


async def test_scheduling_and_expiry_with_an_injected_clock(hub, monkeypatch) -> None:
    tenant = ref("clock")
    cur = curator(tenant)
    reader = token(tenant, "emp-1")
    start = datetime.now(UTC).replace(microsecond=0)
    publish_at, expires_at = start + timedelta(days=1), start + timedelta(days=2)
    item = (
        await hub.http.post(
            "/api/v1/content",
            headers=cur,
            json=article(publish_at=publish_at.isoformat(), expires_at=expires_at.isoformat()),
        )
    ).json()
    assert item["status"] == "scheduled"

    async def feed_ids() -> list[str]:
        page = await hub.http.get("/api/v1/feed", headers=reader)
        return [i["id"] for i in page.json()["items"]]

    async def status() -> str:
        return (await hub.http.get(f"/api/v1/content/{item['id']}", headers=cur)).json()["status"]

    monkeypatch.setattr(hub.services, "clock", lambda: publish_at - timedelta(seconds=1))
    await run_schedule(hub.services)
    assert await status() == "scheduled" and await feed_ids() == []

    monkeypatch.setattr(hub.services, "clock", lambda: publish_at)
    await run_schedule(hub.services)
    assert await status() == "published" and await feed_ids() == [item["id"]]
    [published] = await events_of(CONTENT_PUBLISHED, tenant)
    assert datetime.fromisoformat(published["data"]["publish_at"]) == publish_at

    # Past its expiry the item leaves the feed at once, before the scheduler even runs.
    monkeypatch.setattr(hub.services, "clock", lambda: expires_at)
    assert await feed_ids() == []
    assert (await hub.http.get(f"/api/v1/content/{item['id']}", headers=reader)).status_code == 404
    await run_schedule(hub.services)
    assert await status() == "expired"
    [retired] = await events_of(CONTENT_RETIRED, tenant)
    assert retired["data"]["reason"] == "expired" and retired["data"]["retired_by"] is None

    # A schedule whose whole window passed unseen expires without ever being announced.
    missed = (
        await hub.http.post(
            "/api/v1/content",
            headers=cur,
            json=article(
                publish_at=(expires_at + timedelta(days=1)).isoformat(),
                expires_at=(expires_at + timedelta(days=2)).isoformat(),
            ),
        )
    ).json()
    monkeypatch.setattr(hub.services, "clock", lambda: expires_at + timedelta(days=3))
    await run_schedule(hub.services)
    assert (await hub.http.get(f"/api/v1/content/{missed['id']}", headers=cur)).json()[
        "status"
    ] == "expired"
    assert len(await events_of(CONTENT_PUBLISHED, tenant, at_least=2, timeout=3)) == 1


async def test_the_worker_publishes_and_expires_on_time_without_a_request(hub) -> None:
    tenant = ref("ontime")
    cur = curator(tenant)
    start = datetime.now(UTC)
    item = (
        await hub.http.post(
            "/api/v1/content",
            headers=cur,
            json=article(
                publish_at=(start + timedelta(seconds=1)).isoformat(),
                expires_at=(start + timedelta(seconds=3)).isoformat(),
            ),
        )
    ).json()
    assert item["status"] == "scheduled"

    async def status() -> str:
        return (await hub.http.get(f"/api/v1/content/{item['id']}", headers=cur)).json()["status"]

    await eventually(status, lambda s: s == "published", timeout=15)
    await eventually(status, lambda s: s == "expired", timeout=15)
    assert [e["data"]["reason"] for e in await events_of(CONTENT_RETIRED, tenant)] == ["expired"]
