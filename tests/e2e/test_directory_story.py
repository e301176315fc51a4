"""HR's directory drives who sees what and which team a share counts for, and a person HR
deletes is refused everywhere and erased: SCIM on the people api, then every other service
as it learns of it from the events."""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

import httpx
from bson import json_util
from pymongo import AsyncMongoClient

from contracts.topics import ADVOCATE_OPTED_OUT
from metrics.adapters.mongo import decode_facts
from support import MONGODB_URL, SERVICES, eventually, read_topic, ref, token

# The demo tenant's SCIM token on a local installation (people's default).
SCIM_TOKEN = "chorus-scim-local-token"
TENANT = "demo"
SCIM_JSON = "application/scim+json"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# How long after HR deletes a person no service may keep anything under their id.
DELETION_DEADLINE = 60.0


def _scim(platform: Any) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=f"{platform.url('people')}/scim/v2",
        headers={"Authorization": f"Bearer {SCIM_TOKEN}", "Content-Type": SCIM_JSON},
        timeout=15,
    )


async def _found(platform: Any, needle: str) -> list[str]:
    """Where `needle` appears in any stored document of any service: `db.collection`."""
    found = []
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    try:
        # Named, not listed: listing every database of a shared server is slow on FerretDB.
        for service in (*SERVICES, "web"):
            db = client[f"chorus_{service}_{platform.suffix}"]
            for name in await db.list_collection_names():
                async for doc in db[name].find({}):
                    text = json_util.dumps(doc)
                    if service == "metrics" and name == "fact_log":
                        # The facts of the worker's recent batches, compressed.
                        text += json_util.dumps(decode_facts(doc["facts"]))
                    if needle in text:
                        found.append(f"{service}.{name}")
                        break
    finally:
        await client.close()
    return found


async def _titles(http: httpx.AsyncClient, platform: Any, person: str, topic: str) -> set[str]:
    # The token says nothing of the person's groups: the directory does.
    listed = await http.get(
        f"{platform.url('content')}/api/v1/feed",
        params={"limit": 100, "topic": topic},
        headers=token(TENANT, person),
    )
    listed.raise_for_status()
    return {item["title"] for item in listed.json()["items"]}


async def test_hr_moves_a_person_then_deletes_them(platform: Any) -> None:
    person, sales, marketing = ref("hr-person-"), ref("sales-"), ref("marketing-")
    topic = ref("hr-news-")
    curator = token(TENANT, "curator-1", roles=("employee", "curator"))
    async with _scim(platform) as scim, httpx.AsyncClient(timeout=15) as http:
        created = await scim.post(
            "/Users",
            json={
                "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
                "userName": person,
                "displayName": "Pat Person",
                "active": True,
                "addresses": [{"type": "work", "locality": "Oslo", "primary": True}],
            },
        )
        assert created.status_code == 201, created.text
        user_id = created.json()["id"]
        groups = {}
        for name, members in ((sales, [{"value": user_id}]), (marketing, [])):
            made = await scim.post("/Groups", json={"displayName": name, "members": members})
            assert made.status_code == 201, made.text
            groups[name] = made.json()["id"]

        items = {}
        for group in (sales, marketing):
            published = await http.post(
                f"{platform.url('content')}/api/v1/content",
                headers=curator,
                json={
                    "title": f"News for {group}",
                    "kind": "article",
                    "url": "https://www.example.com/news",
                    "audience": {"groups": [group]},
                    "topics": [topic],
                },
            )
            assert published.status_code == 201, published.text
            items[group] = published.json()["id"]

        # In sales: the sales item, not marketing's.
        seen = await eventually(
            lambda: _titles(http, platform, person, topic), lambda t: f"News for {sales}" in t
        )
        assert f"News for {marketing}" not in seen

        # HR moves them to marketing.
        for group, op in ((sales, "remove"), (marketing, "add")):
            path = f'members[value eq "{user_id}"]' if op == "remove" else "members"
            operation: dict[str, Any] = {"op": op, "path": path}
            if op == "add":
                operation["value"] = [{"value": user_id}]
            moved = await scim.patch(
                f"/Groups/{groups[group]}", json={"schemas": [PATCH], "Operations": [operation]}
            )
            assert moved.status_code in (200, 204), moved.text
        seen = await eventually(
            lambda: _titles(http, platform, person, topic),
            lambda t: f"News for {marketing}" in t and f"News for {sales}" not in t,
        )

        # Their next share counts for marketing.
        joined = await http.post(
            f"{platform.url('share')}/api/v1/advocates/me",
            headers=token(TENANT, person),
            json={"accept": True},
        )
        assert joined.status_code == 201, joined.text

        async def share() -> httpx.Response:
            return await http.post(
                f"{platform.url('share')}/api/v1/shares",
                headers=token(TENANT, person),
                json={"content_id": items[marketing], "network": "linkedin"},
            )

        await eventually(share, lambda r: r.status_code == 201)

        async def shares_of(group: str) -> int:
            figures = await http.get(
                f"{platform.url('metrics')}/api/v1/figures",
                params={"group": group},
                headers=token(TENANT, "admin-1", roles=("employee", "admin")),
            )
            figures.raise_for_status()
            count: int = figures.json()["figures"]["shares"]
            return count

        await eventually(lambda: shares_of(marketing), lambda n: n == 1)
        assert await shares_of(sales) == 0

        # HR deletes them: the directory forgets them, every service refuses them, and
        # share asks every service to erase them.
        deleted = await scim.delete(f"/Users/{user_id}")
        deleted_at = time.monotonic()
        assert deleted.status_code == 204
        assert (await scim.get(f"/Users/{user_id}")).status_code == 404

        async def refused(service: str, path: str) -> int:
            answer = await http.get(f"{platform.url(service)}{path}", headers=token(TENANT, person))
            return answer.status_code

        for service, path in (
            ("content", "/api/v1/feed"),
            ("share", "/api/v1/advocates/me"),
            ("rewards", "/api/v1/me/points"),
        ):
            await eventually(partial(refused, service, path), lambda status: status == 403)
        records = await read_topic(
            ADVOCATE_OPTED_OUT, lambda rs: any(person.encode() in (r.value or b"") for r in rs)
        )
        # One announcement (the outbox may deliver it more than once, under one id).
        erasures = [json.loads(r.value) for r in records if person.encode() in r.value]
        assert len({e["id"] for e in erasures}) == 1, erasures
        assert all(e["data"]["erase"] is True for e in erasures)

        # Within a minute of the deletion, no service keeps anything under their ids (the
        # employee id, and HR's id of the User).
        async def naming_them() -> list[str]:
            return [*await _found(platform, person), *await _found(platform, user_id)]

        left = DELETION_DEADLINE - (time.monotonic() - deleted_at)
        await eventually(naming_them, lambda found: not found, timeout=max(left, 0))
