"""The download of my data: every item I created and my acknowledgements, and nobody
else's."""

from __future__ import annotations

from datetime import UTC, datetime

from content_helpers import admin, article, curator

from contracts import PersonUpserted, PersonUpsertedData
from support import ref, token


async def test_my_export_holds_my_items_and_acknowledgements_and_only_mine(hub) -> None:
    tenant = ref("mine")
    me, colleague = token(tenant, "emp-a"), token(tenant, "emp-b")
    published = await hub.http.post(
        "/api/v1/guidelines",
        headers=admin(tenant),
        json={"title": "Guidelines", "body": "Be kind.", "acknowledgement_required": True},
    )
    assert published.status_code == 201, published.text
    acked = await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=me)
    assert acked.status_code == 201, acked.text
    assert (
        await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=colleague)
    ).status_code == 201

    async def create(headers: dict[str, str], title: str) -> str:
        created = await hub.http.post("/api/v1/content", headers=headers, json=article(title=title))
        assert created.status_code == 201, created.text
        return str(created.json()["id"])

    first = await create(me, "My first suggestion")
    second = await create(me, "My second suggestion")
    submitted = await hub.http.post(
        f"/api/v1/content/{second}/transitions", headers=me, json={"action": "submit"}
    )
    assert submitted.status_code == 200, submitted.text
    theirs = await create(colleague, "Their suggestion")
    curated = await create(curator(tenant), "The team's article")
    # The same employee id in another tenant is another person.
    elsewhere = await create(token(ref("other"), "emp-a"), "Elsewhere")
    await hub.services.repo.mark_shared({(tenant, "emp-a"): {curated}, (tenant, "emp-b"): {theirs}})

    whole = await hub.http.get("/api/v1/me/export", headers=me)
    assert whole.status_code == 200, whole.text
    mine = whole.json()
    assert mine["employee_id"] == "emp-a"
    assert [(i["id"], i["status"]) for i in mine["items"]] == [
        (second, "in_review"),
        (first, "draft"),
    ]
    assert all(i["suggestion"] and i["created_by"] == "emp-a" for i in mine["items"])
    assert mine["next_cursor"] is None
    records = mine["records"]
    assert [(a["employee_id"], a["version"]) for a in records["acknowledgements"]] == [("emp-a", 1)]
    assert records["shared_content_ids"] == [curated]
    assert theirs not in whole.text and elsewhere not in whole.text and "emp-b" not in whole.text

    # A page at a time: the other records come with the first page only.
    page = (await hub.http.get("/api/v1/me/export", headers=me, params={"limit": 1})).json()
    assert [i["id"] for i in page["items"]] == [second] and page["records"] is not None
    rest = await hub.http.get(
        "/api/v1/me/export", headers=me, params={"limit": 1, "cursor": page["next_cursor"]}
    )
    assert [i["id"] for i in rest.json()["items"]] == [first]
    assert rest.json()["records"] is None

    # A curator's download is theirs too, not the tenant's.
    curators = (await hub.http.get("/api/v1/me/export", headers=curator(tenant))).json()
    assert [i["id"] for i in curators["items"]] == [curated]
    assert (await hub.http.get("/api/v1/me/export")).status_code == 401


async def test_my_export_holds_what_the_copy_of_the_directory_says_of_me(hub) -> None:
    tenant = ref("mine")
    directory = hub.api.state.directory
    for where in (tenant, ref("other")):
        await directory.apply(
            PersonUpserted.create(
                tenant_id=where,
                subject="emp-a",
                data=PersonUpsertedData(
                    employee_id="emp-a",
                    version=2,
                    user_name="emp-a",
                    groups=["sales"] if where == tenant else ["elsewhere"],
                    location="oslo",
                    updated_at=datetime(2026, 3, 1, 9, 0, tzinfo=UTC),
                ),
            )
        )
    mine = (await hub.http.get("/api/v1/me/export", headers=token(tenant, "emp-a"))).json()
    assert mine["records"]["directory"] == {
        "status": "active",
        "version": 2,
        "groups": ["sales"],
        "location": "oslo",
        "languages": [],
        "changed_at": "2026-03-01T09:00:00Z",
    }
    unknown = (await hub.http.get("/api/v1/me/export", headers=token(tenant, "emp-b"))).json()
    assert unknown["records"]["directory"] is None
