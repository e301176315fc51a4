"""The feed follows HR's directory: a person moved to another group sees that group's items,
whatever their token still says; an older version arriving late changes nothing."""

from __future__ import annotations

from datetime import UTC, datetime

from content_helpers import article, curator, employee

from contracts import PersonUpserted, PersonUpsertedData
from contracts.erasure import person_key
from support import eventually, produce_in_order, ref


def _moved(tenant: str, who: str, version: int, groups: list[str]) -> PersonUpserted:
    return PersonUpserted.create(
        tenant_id=tenant,
        subject=who,
        data=PersonUpsertedData(
            employee_id=who,
            version=version,
            user_name=who,
            groups=groups,
            updated_at=datetime.now(UTC),
        ),
    )


async def _create(hub, tenant: str, **fields) -> str:
    response = await hub.http.post(
        "/api/v1/content", headers=curator(tenant), json=article(**fields)
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _feed(hub, headers) -> set[str]:
    response = await hub.http.get("/api/v1/feed", headers=headers)
    assert response.status_code == 200, response.text
    return {item["id"] for item in response.json()["items"]}


async def test_a_moved_person_sees_the_new_groups_items_not_the_old(hub) -> None:
    tenant = ref("dir")
    me = employee(tenant, "emp-1", groups=("team-a",))  # the token keeps saying team-a
    for_a = await _create(hub, tenant, title="For A", audience={"groups": ["team-a"]})
    for_b = await _create(hub, tenant, title="For B", audience={"groups": ["team-b"]})
    assert await _feed(hub, me) == {for_a}

    await produce_in_order(_moved(tenant, "emp-1", 2, ["team-b"]))
    await eventually(lambda: _feed(hub, me), lambda seen: seen == {for_b})

    # Version 1 (team-a) arrives late, then someone else's event behind it.
    await produce_in_order(_moved(tenant, "emp-1", 1, ["team-a"]), _moved(tenant, "marker", 1, []))
    directory = hub.db["directory"]
    await eventually(
        lambda: directory.find_one({"_id": person_key(tenant, "marker")}),
        lambda doc: doc is not None,
    )
    entry = await directory.find_one({"_id": person_key(tenant, "emp-1")})
    assert (entry["version"], entry["groups"]) == (2, ["team-b"])
    hub.api.state.directory._cache.clear()  # what the api read before, forgotten
    assert await _feed(hub, me) == {for_b}
