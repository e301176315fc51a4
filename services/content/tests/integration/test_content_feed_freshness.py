"""The feed's read model in a second api process: it learns every change through the
tenant's change log (tests call `refresh`, which the process runs every half second)."""

from __future__ import annotations

import asyncio

from content_helpers import article, curator, employee
from test_content_feed import _feed, _share

from content.adapters.feed_view import MongoFeedReadModel
from content.adapters.mongo import ContentRepository
from content.domain import feed
from content.service_layer.handlers import utcnow
from contracts import audience
from support import eventually, ref

NOBODY = audience.Viewer(frozenset(), None, ())


async def _ids(model: MongoFeedReadModel, tenant: str) -> list[str]:
    held = await model.tenant(tenant)
    page, _ = held.items.page(NOBODY, None, 50, feed.Filters(), utcnow())
    return [entry.item_id for entry in page]


async def test_a_second_process_follows_writes_moves_and_shares(hub) -> None:
    tenant = ref("fresh")
    other = MongoFeedReadModel(ContentRepository(hub.db), grace_seconds=0.3)
    try:
        assert await _ids(other, tenant) == []
        first = await hub.http.post("/api/v1/content", headers=curator(tenant), json=article())
        first_id = first.json()["id"]
        # The writing process sees its write at once; the other one after a refresh.
        assert await _feed(hub, employee(tenant, "emp-1")) == [first_id]
        await other.refresh()
        assert await _ids(other, tenant) == [first_id]

        await hub.http.patch(
            f"/api/v1/content/{first_id}", headers=curator(tenant), json={"title": "Renamed"}
        )
        await other.refresh()
        entry = (await other.tenant(tenant)).items.get(first_id)
        assert entry is not None and entry.doc["title"] == "Renamed"

        # Shares are counted by the worker: counts and marks arrive through the log too.
        await _share(tenant, first_id, "emp-7")

        async def shares() -> tuple[int, frozenset[str]]:
            await other.refresh()
            held = await other.tenant(tenant)
            entry = held.items.get(first_id)
            return (entry.shares if entry else -1), held.shared_by("emp-7")

        await eventually(shares, lambda got: got == (1, frozenset({first_id})), timeout=30)

        await hub.http.post(
            f"/api/v1/content/{first_id}/transitions",
            headers=curator(tenant),
            json={"action": "withdraw"},
        )
        await other.refresh()
        assert await _ids(other, tenant) == []
    finally:
        await other.close()


async def test_a_number_taken_but_never_logged_is_skipped_after_the_grace(hub) -> None:
    tenant = ref("gap")
    repo = ContentRepository(hub.db)
    other = MongoFeedReadModel(repo, grace_seconds=0.3)
    try:
        await other.tenant(tenant)
        # A writer that died between taking its number and logging its change.
        await other._next_number(tenant)
        created = await hub.http.post("/api/v1/content", headers=curator(tenant), json=article())
        item_id = created.json()["id"]
        # What was logged after the gap is applied already.
        await other.refresh()
        assert await _ids(other, tenant) == [item_id]
        await asyncio.sleep(0.4)
        await other.refresh()
        await asyncio.sleep(0.2)  # the reload it started
        assert await _ids(other, tenant) == [item_id]
        counter = await repo.feed_revisions.find_one({"_id": tenant})
        assert counter is not None
        assert other._held[tenant].seen == counter["rev"]
    finally:
        await other.close()
