"""HR's directory in share: a moved person's shares count for the new team, a deactivated
one is opted out and refused, a deleted one is erased once; stale versions change nothing."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
from pymongo import AsyncMongoClient
from share_stack import ShareStack, TopicTail, publish_content

from chassis.directory import CACHE_SECONDS
from contracts import (
    PersonDeactivated,
    PersonDeactivatedData,
    PersonDeleted,
    PersonDeletedData,
    PersonUpserted,
    PersonUpsertedData,
    derived_event_id,
)
from contracts.erasure import person_key, pseudonym
from support import MONGODB_URL, eventually, produce_in_order, ref, token

NOW = datetime.now(UTC)
PersonEvent = PersonUpserted | PersonDeactivated | PersonDeleted


def upserted(tenant: str, who: str, version: int, groups: list[str]) -> PersonUpserted:
    return PersonUpserted.create(
        tenant_id=tenant,
        subject=who,
        data=PersonUpsertedData(
            employee_id=who, version=version, user_name=who, groups=groups, updated_at=NOW
        ),
    )


def deactivated(tenant: str, who: str, version: int) -> PersonDeactivated:
    return PersonDeactivated.create(
        tenant_id=tenant,
        subject=who,
        data=PersonDeactivatedData(employee_id=who, version=version, deactivated_at=NOW),
    )


def deleted(tenant: str, who: str, version: int) -> PersonDeleted:
    return PersonDeleted.create(
        tenant_id=tenant,
        subject=who,
        data=PersonDeletedData(employee_id=who, version=version, deleted_at=NOW),
    )


async def _join(http: httpx.AsyncClient, headers: dict[str, str]) -> None:
    joined = await http.post("/api/v1/advocates/me", headers=headers, json={"accept": True})
    assert joined.status_code == 201, joined.text


async def _entry(stack: ShareStack, tenant: str, who: str) -> dict[str, Any] | None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    try:
        db = client[stack.api.env["SHARE_DATABASE"]]
        return await db["directory"].find_one({"_id": person_key(tenant, who)})
    finally:
        await client.close()


async def _applied(stack: ShareStack, tenant: str, who: str, version: int) -> None:
    await eventually(
        lambda: _entry(stack, tenant, who),
        lambda doc: doc is not None and doc["version"] == version,
    )


def _of(records: list[Any], tenant: str, who: str) -> list[dict[str, Any]]:
    return [r for r in records if r.get("tenantid") == tenant and r["data"]["employee_id"] == who]


async def test_a_moved_person_shares_for_the_new_team(share_stack: ShareStack) -> None:
    tenant = ref("dir")
    me = token(tenant, "emp-1", groups=("team-a",))  # the token keeps saying team-a
    shared = await TopicTail("chorus.post-shared.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            await _join(http, me)
            first, second = await publish_content(tenant), await publish_content(tenant)

            async def share(content_id: str) -> httpx.Response:
                return await http.post(
                    "/api/v1/shares",
                    headers=me,
                    json={"content_id": content_id, "network": "linkedin"},
                )

            before = await eventually(lambda: share(first), lambda r: r.status_code != 404)
            assert before.status_code == 201, before.text

            await produce_in_order(upserted(tenant, "emp-1", 1, ["team-b"]))
            await _applied(share_stack, tenant, "emp-1", 1)
            await asyncio.sleep(CACHE_SECONDS)  # what the api read before has expired
            after = await eventually(lambda: share(second), lambda r: r.status_code != 404)
            assert after.status_code == 201, after.text

        records = await shared.poll(3)
        groups = {
            r["data"]["content_id"]: r["data"]["employee_groups"]
            for r in _of(records, tenant, "emp-1")
        }
        assert groups == {first: ["team-a"], second: ["team-b"]}
    finally:
        await shared.stop()


async def test_a_deactivated_person_is_opted_out_and_refused(share_stack: ShareStack) -> None:
    tenant = ref("dir")
    me = token(tenant, "emp-1")
    opted_out = await TopicTail("chorus.advocate-opted-out.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            await _join(http, me)
            await produce_in_order(upserted(tenant, "emp-1", 1, ["team-a"]))
            await produce_in_order(deactivated(tenant, "emp-1", 2))

            refused = await eventually(
                lambda: http.get("/api/v1/advocates/me", headers=me),
                lambda r: r.status_code == 403,
            )
            assert refused.headers["content-type"].startswith("application/problem+json")
            assert "directory deactivated" in refused.json()["detail"]
            records = await eventually(
                lambda: opted_out.poll(0.5), lambda rs: bool(_of(rs, tenant, "emp-1"))
            )
        [event] = _of(records, tenant, "emp-1")
        assert event["data"]["erase"] is False
        doc = await _advocate(share_stack, tenant, "emp-1")
        assert doc is not None and doc["status"] == "opted_out"
    finally:
        await opted_out.stop()


async def _advocate(stack: ShareStack, tenant: str, who: str) -> dict[str, Any] | None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    try:
        db = client[stack.api.env["SHARE_DATABASE"]]
        return await db["advocates"].find_one({"_id": f"{tenant}:{who}"})
    finally:
        await client.close()


async def _erased(stack: ShareStack, tenant: str, who: str) -> dict[str, Any] | None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(MONGODB_URL)
    try:
        db = client[stack.api.env["SHARE_DATABASE"]]
        return await db["advocates"].find_one({"_id": "erased:" + person_key(tenant, who)})
    finally:
        await client.close()


async def test_a_deleted_person_is_erased_once_joined_or_not(share_stack: ShareStack) -> None:
    tenant = ref("dir")
    opted_out = await TopicTail("chorus.advocate-opted-out.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            await _join(http, token(tenant, "emp-1", groups=("team-a",)))
        gone = deleted(tenant, "emp-1", 1)
        # Delivered twice; then someone who never joined, processed after both.
        await produce_in_order(gone, gone, deleted(tenant, "never-joined", 1))
        records = await eventually(
            lambda: opted_out.poll(0.5), lambda rs: bool(_of(rs, tenant, "never-joined"))
        )
        records = await opted_out.poll(1.5)
        erased = _of(records, tenant, "emp-1")
        assert [e["data"]["erase"] for e in erased] == [True]
        assert [e["data"]["erase"] for e in _of(records, tenant, "never-joined")] == [True]
        [event] = erased
        assert event["id"] == derived_event_id("advocate-erased", gone.id)
        # The advocate's document is gone; what is remembered names nobody.
        assert await _advocate(share_stack, tenant, "emp-1") is None
        kept = await _erased(share_stack, tenant, "emp-1")
        assert kept is not None and (kept["status"], kept["deleted_version"]) == ("erased", 1)
        assert kept["pseudonym"] == pseudonym(event["id"])
        assert "employee_id" not in kept and "groups" not in kept
        tombstone = await _entry(share_stack, tenant, "emp-1")
        assert tombstone is not None and tombstone["status"] == "deleted"
        assert "groups" not in tombstone
    finally:
        await opted_out.stop()


async def test_an_older_version_after_a_newer_one_changes_nothing(
    share_stack: ShareStack,
) -> None:
    tenant = ref("dir")
    me = token(tenant, "emp-1")
    opted_out = await TopicTail("chorus.advocate-opted-out.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            await _join(http, me)
            await _join(http, token(tenant, "marker"))
            # Reactivated at version 3; the deactivation of version 2 arrives after it.
            await produce_in_order(upserted(tenant, "emp-1", 3, ["team-a"]))
            await _applied(share_stack, tenant, "emp-1", 3)
            await produce_in_order(
                deactivated(tenant, "emp-1", 2), deactivated(tenant, "marker", 1)
            )
            records = await eventually(
                lambda: opted_out.poll(0.5), lambda rs: bool(_of(rs, tenant, "marker"))
            )
            assert _of(records, tenant, "emp-1") == []
            entry = await _entry(share_stack, tenant, "emp-1")
            assert entry is not None and (entry["version"], entry["status"]) == (3, "active")
            await asyncio.sleep(CACHE_SECONDS)
            still = await http.get("/api/v1/advocates/me", headers=me)
            assert still.status_code == 200, still.text
            assert still.json()["status"] == "enrolled"
    finally:
        await opted_out.stop()
