"""Erasure against the real servers: within a minute of a person's erasure nothing content
stores names them (the directory, kept by the chassis, aside); what others count stays
under the pseudonym, every feed forgets the person, and a share they made before the
erasure but counted after it does not bring them back, while one made after it does."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

from bson import json_util
from content_helpers import admin, article, curator, employee

from chassis.consumer import Consumed
from content.adapters.feed_view import MongoFeedReadModel
from content.adapters.mongo import ContentRepository
from content.domain.feed import TenantFeed
from content.service_layer import erasure, handlers
from contracts import AdvocateOptedOut, AdvocateOptedOutData, PostShared, PostSharedData
from contracts.erasure import is_pseudonym, person_key, pseudonym
from support import eventually, produce, ref

LEADER_POST = "https://www.linkedin.com/posts/why-i-joined-activity-9"


async def _naming(hub, who: str) -> dict[str, list[Any]]:
    """Every document of every collection of the hub's database that holds `who`."""
    found: dict[str, list[Any]] = {}
    for name in await hub.db.list_collection_names():
        if name == "directory":  # the chassis' copy of HR's directory, erased by it
            continue
        async for doc in hub.db[name].find({}):
            if who in json_util.dumps(doc):
                found.setdefault(name, []).append(doc["_id"])
    return found


async def _share(
    tenant: str, who: str, content_id: str | None, at: datetime, leader_post: str | None = None
) -> None:
    event = PostShared.create(
        tenant_id=tenant,
        subject=ref("s"),
        data=PostSharedData(
            share_id=ref("s"),
            content_id=content_id,
            employee_id=who,
            network="linkedin",
            short_code=ref("code"),
            tracked_url="https://go.example.com/l/abc",
            shared_at=at,
            method="intent",
            by_leader=leader_post is not None,
            post_url=leader_post,
            post_title="Why I joined" if leader_post else None,
        ),
    )
    await produce(PostShared.topic, event.to_json(), key=event.partition_key().encode())


def _shared(tenant: str, who: str, content_id: str, at: datetime) -> PostShared:
    return PostShared.create(
        tenant_id=tenant,
        subject=ref("s"),
        data=PostSharedData(
            share_id=ref("s"),
            content_id=content_id,
            employee_id=who,
            network="linkedin",
            short_code=ref("code"),
            tracked_url="https://go.example.com/l/abc",
            shared_at=at,
            method="intent",
        ),
    )


async def _erase(tenant: str, who: str, at: datetime) -> AdvocateOptedOut:
    left = AdvocateOptedOut.create(
        tenant_id=tenant,
        subject=who,
        data=AdvocateOptedOutData(employee_id=who, opted_out_at=at, erase=True),
    )
    await produce(left.topic, left.to_json(), key=left.partition_key().encode())
    return left


async def _create(hub, tenant: str, **fields: Any) -> str:
    response = await hub.http.post(
        "/api/v1/content", headers=curator(tenant), json=article(**fields)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def _marked(hub, headers: dict[str, str]) -> dict[str, bool]:
    """The api process's feed: which items it marks as shared by the caller."""
    response = await hub.http.get("/api/v1/feed", headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"]: item["shared"] for item in response.json()["items"]}


def _state(held: TenantFeed, people: tuple[str, ...]) -> tuple[Any, ...]:
    return (
        [(entry.item_id, entry.shares, entry.doc.get("created_by")) for entry in held.items],
        {p: (held.shared_by(p), held.areas_of(p)) for p in people},
    )


async def test_an_erased_person_is_named_nowhere_and_counted_under_the_pseudonym(hub) -> None:
    tenant = ref("erase")
    who, stays = ref("emp-gone-"), ref("emp-stays-")
    me, colleague = employee(tenant, who, languages=("en",)), employee(tenant, stays)
    item = await _create(hub, tenant, language="en", topics=["Data"])
    # A reader that will be behind: it holds the tenant from before anything names the person.
    behind = MongoFeedReadModel(ContentRepository(hub.db), grace_seconds=0.3)
    try:
        await behind.tenant(tenant)
        published = await hub.http.post(
            "/api/v1/guidelines",
            headers=admin(tenant),
            json={"title": "Guidelines", "body": "Disclose.", "acknowledgement_required": True},
        )
        assert published.status_code == 201, published.text
        for headers in (me, colleague):
            acked = await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=headers)
            assert acked.status_code == 201, acked.text
            named = await hub.http.put(
                "/api/v1/me/expertise", headers=headers, json={"areas": ["Data"]}
            )
            assert named.status_code == 200, named.text
        path = await hub.http.put(
            "/api/v1/onboarding",
            headers=curator(tenant),
            json={"version": 0, "steps": [{"titles": {"en": "Why"}}]},
        )
        step = path.json()["steps"][0]["id"]
        done = await hub.http.post(f"/api/v1/onboarding/steps/{step}/completion", headers=me)
        assert done.status_code == 201, done.text
        # Their own suggestion, sent for review with a word to the curators.
        suggested = await hub.http.post("/api/v1/content", headers=me, json=article())
        assert suggested.status_code == 201, suggested.text
        suggestion = suggested.json()["id"]
        submitted = await hub.http.post(
            f"/api/v1/content/{suggestion}/transitions",
            headers=me,
            json={"action": "submit", "comment": "worth a look"},
        )
        assert submitted.status_code == 200, submitted.text
        # They share an item, as does their colleague, and their own post as a leader.
        now = datetime.now(UTC)
        await _share(tenant, who, item, now)
        await _share(tenant, stays, item, now)
        await _share(tenant, who, None, now, leader_post=LEADER_POST)

        async def shared() -> tuple[dict[str, bool], dict[str, bool]]:
            return await _marked(hub, me), await _marked(hub, colleague)

        seen = await eventually(
            shared, lambda got: got[0].get(item) and got[1].get(item) and len(got[0]) == 2
        )
        assert len(seen[0]) == 2  # the item and the leader's post
        counts = (await hub.http.get("/api/v1/expertise", headers=curator(tenant))).json()
        assert counts["areas"][0]["people"] == 2
        assert set(await _naming(hub, who)) >= {
            "shared",
            "acknowledgements",
            "expertise",
            "onboarding_progress",
            "items",
            "feed_changes",
        }

        left = await _erase(tenant, who, datetime.now(UTC))
        found = await eventually(lambda: _naming(hub, who), lambda got: got == {}, timeout=60)
        assert found == {}

        # Each version keeps its count of acknowledgements, one of them under the pseudonym.
        alias = pseudonym(left.id)
        listed = await hub.http.get(
            "/api/v1/guidelines/1/acknowledgements", headers=curator(tenant)
        )
        assert sorted(a["employee_id"] for a in listed.json()["items"]) == sorted([alias, stays])
        # Their suggestion and their post stay, by the pseudonym.
        kept = (await hub.http.get(f"/api/v1/content/{suggestion}", headers=curator(tenant))).json()
        assert (kept["created_by"], kept["comment_by"]) == (alias, alias)
        post = await hub.db["items"].find_one({"tenant": tenant, "leader_post": LEADER_POST})
        assert (post["created_by"], post["approved_by"]) == (alias, alias)

        # The api process's feed: no item marked for them (their colleague's mark stays),
        # and the coverage table counts their colleague's areas only.
        marks = await eventually(lambda: _marked(hub, me), lambda got: not any(got.values()))
        assert marks == {item: False, post["_id"]: False}
        assert (await _marked(hub, colleague))[item] is True
        held = await hub.services.feed.tenant(tenant)
        assert held.areas_of(who) == frozenset() and held.areas_of(stays) == {"data"}
        table = (await hub.http.get("/api/v1/expertise", headers=curator(tenant))).json()
        assert table["areas"] == [
            {"area": "data", "people": 1, "live_items": 1, "uncovered": False}
        ]
        assert (await hub.http.get("/api/v1/me/export", headers=me)).json()["records"][
            "shared_content_ids"
        ] == []

        # The reader that was behind finds entries gone, reloads after the grace, and ends
        # with what a fresh load reads.
        fresh = MongoFeedReadModel(ContentRepository(hub.db))
        expected = _state(await fresh.tenant(tenant), (who, stays))
        assert expected[1] == {
            who: (frozenset(), frozenset()),
            stays: (frozenset({item}), frozenset({"data"})),
        }

        await behind.refresh()
        # The entries it had not applied are gone: it stops at the gap, then reloads.
        assert behind._held[tenant].gap_since is not None

        async def caught_up() -> tuple[Any, ...]:
            await behind.refresh()
            await asyncio.sleep(0.2)
            return _state(await behind.tenant(tenant), (who, stays))

        assert await eventually(caught_up, lambda got: got == expected, timeout=10) == expected
    finally:
        await behind.close()


async def test_a_share_counted_after_the_erasure_marks_only_if_made_after_it(hub) -> None:
    tenant = ref("erase-late")
    who = ref("emp-late-")
    me = employee(tenant, who)
    before, after = await _create(hub, tenant), await _create(hub, tenant)
    erased_at = datetime.now(UTC)
    await _erase(tenant, who, erased_at)
    erasures = hub.db["erasures"]
    await eventually(
        lambda: erasures.find_one({"_id": person_key(tenant, who)}), lambda doc: doc is not None
    )
    # Published before the erasure and counted only now; then the person came back and
    # shared again (their events are on one partition, in this order).
    await _share(tenant, who, before, erased_at - timedelta(minutes=1))
    await _share(tenant, who, after, erased_at + timedelta(seconds=1))

    async def counted() -> list[int]:
        items = [await hub.services.repo.get(tenant, i) for i in (before, after)]
        return [item.shares if item else 0 for item in items]

    # Both shares count: a count names nobody.
    assert await eventually(counted, lambda got: got == [1, 1]) == [1, 1]
    assert await hub.services.repo.shared_by(tenant, who) == [after]
    marks = await eventually(lambda: _marked(hub, me), lambda got: got.get(after) is True)
    assert marks == {before: False, after: True}
    # What names them now is only what they did after the erasure.
    found = await _naming(hub, who)
    assert set(found) == {"shared", "feed_changes"}
    logged = [
        row["items"]
        async for entry in hub.db["feed_changes"].find({"tenant": tenant})
        for row in entry.get("marks", [])
        if row["employee"] == who
    ]
    assert logged == [[after]]


async def test_someone_outside_the_program_erases_themselves(hub) -> None:
    tenant = ref("erase-me")
    who = ref("emp-self-")
    me = employee(tenant, who)
    await hub.http.post(
        "/api/v1/guidelines",
        headers=admin(tenant),
        json={"title": "Guidelines", "body": "Disclose.", "acknowledgement_required": True},
    )
    assert (
        await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=me)
    ).status_code == 201
    await hub.http.put("/api/v1/me/expertise", headers=me, json={"areas": ["Data"]})

    erased = await hub.http.post("/api/v1/me/erasure", headers=me)
    assert erased.status_code == 204
    # Done before the answer, in the api process itself.
    assert await _naming(hub, who) == {}
    listed = await hub.http.get("/api/v1/guidelines/1/acknowledgements", headers=curator(tenant))
    [kept] = listed.json()["items"]
    assert is_pseudonym(kept["employee_id"])
    # Again: nothing left to erase, and the count stays.
    assert (await hub.http.post("/api/v1/me/erasure", headers=me)).status_code == 204
    listed = await hub.http.get("/api/v1/guidelines/1/acknowledgements", headers=curator(tenant))
    assert [a["employee_id"] for a in listed.json()["items"]] == [kept["employee_id"]]
    assert await hub.db["erasures"].find_one({"_id": person_key(tenant, who)}) is not None


class _ErasedWhileMarking(ContentRepository):
    """The store, with the person's erasure running to its end after the batch looked for
    erasures and before it writes its marks: the worst interleaving of the two handlers."""

    def __init__(self, services: handlers.Services, tenant: str, who: str, at: datetime) -> None:
        super().__init__(services.repo.items.database)
        self._erase = lambda: erasure.erase(services, tenant, who, pseudonym(ref("e")), at)

    async def mark_shared(self, marks: dict[tuple[str, str], set[str]]) -> None:
        await self._erase()
        await super().mark_shared(marks)


async def test_an_erasure_that_runs_while_a_share_is_counted_still_wins(hub) -> None:
    tenant = ref("erase-race")
    who, stays = ref("emp-race-"), ref("emp-stays-")
    item = await _create(hub, tenant)
    erased_at = datetime.now(UTC)
    services = hub.services
    racing = dataclasses.replace(
        services, repo=_ErasedWhileMarking(services, tenant, who, erased_at)
    )
    batch = [
        Consumed(_shared(tenant, who, item, erased_at - timedelta(seconds=5)), "t", 0, 1),
        Consumed(_shared(tenant, stays, item, erased_at - timedelta(seconds=5)), "t", 0, 2),
    ]
    await handlers.on_post_shared(racing, batch)

    # Counted, but marked only for the colleague, here and in the log.
    stored = await services.repo.get(tenant, item)
    assert stored is not None and stored.shares == 2
    assert await services.repo.shared_by(tenant, who) == []
    assert await services.repo.shared_by(tenant, stays) == [item]
    held = await services.feed.tenant(tenant)
    assert held.shared_by(who) == frozenset() and held.shared_by(stays) == {item}
    assert await _naming(hub, who) == {}
