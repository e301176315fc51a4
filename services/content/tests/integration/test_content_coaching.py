"""Coaching against the real servers: the onboarding path edited by the program team,
steps done by employees (announced once each), figures on completion, and areas of
expertise that reorder the feed and show where content is missing."""

from __future__ import annotations

from content_helpers import NOW, admin, article, curator, employee, events_of

from contracts import AdvocateOptedOut, AdvocateOptedOutData
from contracts.topics import ONBOARDING_STEP_COMPLETED
from support import eventually, produce, ref, token


async def _revise(hub, tenant: str, version: int, steps: list[dict]) -> dict:
    response = await hub.http.put(
        "/api/v1/onboarding",
        headers=curator(tenant),
        json={"version": version, "steps": steps},
    )
    assert response.status_code == 200, response.text
    return response.json()


async def test_the_path_is_edited_and_people_progress_through_it(hub) -> None:
    tenant = ref("onboard")
    me = token(tenant, "emp-1")
    empty = (await hub.http.get("/api/v1/onboarding", headers=me)).json()
    assert empty["version"] == 0 and empty["steps"] == [] and not empty["complete"]

    first = await _revise(
        hub,
        tenant,
        0,
        [
            {"titles": {"en": "Why we do this", "sv": "Varför vi gör det"}, "bodies": {"en": "B"}},
            {"titles": {"en": "What to share"}},
            {"titles": {"en": "Am I bragging?"}},
        ],
    )
    assert first["version"] == 1
    why, what, bragging = (s["id"] for s in first["steps"])

    # An employee may not edit it; an editor who saw an older version is told.
    forbidden = await hub.http.put(
        "/api/v1/onboarding", headers=me, json={"version": 1, "steps": []}
    )
    assert forbidden.status_code == 403
    stale = await hub.http.put(
        "/api/v1/onboarding", headers=admin(tenant), json={"version": 0, "steps": []}
    )
    assert stale.status_code == 409 and stale.json()["current_version"] == 1
    bad = await hub.http.put(
        "/api/v1/onboarding",
        headers=curator(tenant),
        json={"version": 1, "steps": [{"id": "not-a-step", "titles": {"en": "x"}}]},
    )
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "steps.0.id"

    done = await hub.http.post(f"/api/v1/onboarding/steps/{why}/completion", headers=me)
    assert done.status_code == 201, done.text
    assert (done.json()["done"], done.json()["total"]) == (1, 3)
    again = await hub.http.post(f"/api/v1/onboarding/steps/{why}/completion", headers=me)
    assert again.status_code == 200 and again.json()["done"] == 1
    missing = await hub.http.post("/api/v1/onboarding/steps/nope/completion", headers=me)
    assert missing.status_code == 404
    await hub.http.post(f"/api/v1/onboarding/steps/{what}/completion", headers=me)

    # Reordered, one step edited and one removed: progress on the kept steps stays.
    second = await _revise(
        hub,
        tenant,
        1,
        [
            {"id": bragging, "titles": {"en": "Am I bragging?", "fi": "Kehunko?"}},
            {"id": why, "titles": {"en": "Why we do this"}},
        ],
    )
    assert [s["id"] for s in second["steps"]] == [bragging, why]
    mine = (await hub.http.get("/api/v1/onboarding", headers=me)).json()
    assert (mine["done"], mine["total"], mine["complete"]) == (1, 2, False)
    assert mine["steps"][1]["done_at"] is not None and mine["steps"][0]["done_at"] is None

    finished = await hub.http.post(f"/api/v1/onboarding/steps/{bragging}/completion", headers=me)
    assert finished.json()["complete"] is True
    other = token(tenant, "emp-2")
    await hub.http.post(f"/api/v1/onboarding/steps/{why}/completion", headers=other)

    figures = await hub.http.get("/api/v1/onboarding/figures", headers=curator(tenant))
    assert figures.status_code == 200, figures.text
    body = figures.json()
    assert (body["version"], body["started"], body["completed"]) == (2, 2, 1)
    assert [(s["id"], s["done"]) for s in body["steps"]] == [(bragging, 1), (why, 2)]
    assert (await hub.http.get("/api/v1/onboarding/figures", headers=me)).status_code == 403

    events = await events_of(ONBOARDING_STEP_COMPLETED, tenant, at_least=4)
    # Keyed by person: each person's events arrive in order, two people's may interleave
    # (a stable sort by person keeps the order of arrival within each).
    events.sort(key=lambda e: e["data"]["employee_id"])
    seen = [
        (e["data"]["employee_id"], e["data"]["step_id"], e["data"]["path_completed"])
        for e in events
    ]
    # Doing a step twice announced it once; the last of emp-1's steps finished the path.
    assert seen == [
        ("emp-1", why, False),
        ("emp-1", what, False),
        ("emp-1", bragging, True),
        ("emp-2", why, False),
    ], events
    assert events[2]["data"]["path_version"] == 2
    assert events[2]["data"]["steps_done"] == events[2]["data"]["steps_total"] == 2


async def _create(hub, tenant: str, **fields) -> str:
    response = await hub.http.post(
        "/api/v1/content", headers=curator(tenant), json=article(**fields)
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_areas_of_expertise_rank_the_feed_and_show_gaps(hub) -> None:
    tenant = ref("expert")
    me = employee(tenant, "emp-1", languages=("en",))
    popular = await _create(hub, tenant, language="en", topics=["Hiring"])
    mine = await _create(hub, tenant, language="en", topics=["#Data Science"])
    # The popular item was shared, so without areas it leads the day.
    await hub.services.repo.items.update_one({"_id": popular}, {"$set": {"shares": 3}})
    held = await hub.services.feed.tenant(tenant)
    held.raise_shares(popular, 3)

    first = (await hub.http.get("/api/v1/feed", headers=me)).json()["items"]
    assert [i["id"] for i in first] == [popular, mine]

    named = await hub.http.put(
        "/api/v1/me/expertise", headers=me, json={"areas": ["data  science", "AI", "ai", " "]}
    )
    assert named.status_code == 200, named.text
    assert named.json()["areas"] == ["data science", "ai"]
    assert (await hub.http.get("/api/v1/me/expertise", headers=me)).json() == named.json()
    ranked = (await hub.http.get("/api/v1/feed", headers=me)).json()["items"]
    assert [(i["id"], i["on_my_areas"]) for i in ranked] == [(mine, True), (popular, False)]
    # One item a page: the cursor keeps the same order.
    page = (await hub.http.get("/api/v1/feed?limit=1", headers=me)).json()
    rest = await hub.http.get("/api/v1/feed", headers=me, params={"cursor": page["next_cursor"]})
    assert [i["id"] for i in page["items"] + rest.json()["items"]] == [mine, popular]

    too_many = await hub.http.put(
        "/api/v1/me/expertise", headers=me, json={"areas": [f"a{i}" for i in range(11)]}
    )
    assert too_many.status_code == 422

    await hub.http.put(
        "/api/v1/me/expertise",
        headers=employee(tenant, "emp-2"),
        json={"areas": ["AI", "Data Science"]},
    )
    table = await hub.http.get("/api/v1/expertise", headers=curator(tenant))
    assert table.status_code == 200, table.text
    assert table.json()["areas"] == [
        {"area": "ai", "people": 2, "live_items": 0, "uncovered": True},
        {"area": "data science", "people": 2, "live_items": 1, "uncovered": False},
    ]
    assert (await hub.http.get("/api/v1/expertise", headers=me)).status_code == 403
    topics = (await hub.http.get("/api/v1/topics", headers=me)).json()["topics"]
    assert topics == ["data science", "hiring"]


async def test_my_download_holds_my_steps_and_areas_and_only_mine(hub) -> None:
    tenant = ref("coachdata")
    me, colleague = token(tenant, "emp-a"), token(tenant, "emp-b")
    path = await _revise(hub, tenant, 0, [{"titles": {"en": "Why"}}, {"titles": {"en": "What"}}])
    why = path["steps"][0]["id"]
    done = await hub.http.post(f"/api/v1/onboarding/steps/{why}/completion", headers=me)
    assert done.status_code == 201, done.text
    await hub.http.post(
        f"/api/v1/onboarding/steps/{path['steps'][1]['id']}/completion", headers=colleague
    )
    await hub.http.put("/api/v1/me/expertise", headers=me, json={"areas": ["Data"]})
    await hub.http.put("/api/v1/me/expertise", headers=colleague, json={"areas": ["Secret"]})

    records = (await hub.http.get("/api/v1/me/export", headers=me)).json()["records"]
    assert records["onboarding_steps_done"] == {why: done.json()["steps"][0]["done_at"]}
    assert records["areas_of_expertise"] == ["data"]
    nothing = (await hub.http.get("/api/v1/me/export", headers=token(tenant, "emp-c"))).json()
    assert nothing["records"]["onboarding_steps_done"] == {}
    assert nothing["records"]["areas_of_expertise"] == []


async def test_erasure_forgets_my_steps_and_areas_also_in_the_feed(hub) -> None:
    tenant = ref("coacherase")
    me, stays = employee(tenant, "emp-a", languages=("en",)), token(tenant, "emp-b")
    path = await _revise(hub, tenant, 0, [{"titles": {"en": "Why"}}])
    step = path["steps"][0]["id"]
    for headers in (me, stays):
        await hub.http.post(f"/api/v1/onboarding/steps/{step}/completion", headers=headers)
        await hub.http.put("/api/v1/me/expertise", headers=headers, json={"areas": ["Data"]})
    mine = await _create(hub, tenant, language="en", topics=["data"])
    other = await _create(hub, tenant, language="en", topics=["hiring"])

    # An advocate who leaves with erasure: share announces it, content forgets.
    left = AdvocateOptedOut.create(
        tenant_id=tenant,
        subject="emp-a",
        data=AdvocateOptedOutData(employee_id="emp-a", opted_out_at=NOW, erase=True),
    )
    await produce(left.topic, left.to_json(), key=left.partition_key().encode())

    async def forgotten() -> bool:
        areas = (await hub.http.get("/api/v1/me/expertise", headers=me)).json()["areas"]
        done = (await hub.http.get("/api/v1/onboarding", headers=me)).json()["done"]
        return areas == [] and done == 0

    assert await eventually(forgotten, bool, timeout=30)
    # The feed no longer ranks by the erased areas: the newest item of the day leads again
    # (the api learns it from the feed's change log at its next refresh).

    async def order() -> list[str]:
        return [i["id"] for i in (await hub.http.get("/api/v1/feed", headers=me)).json()["items"]]

    assert await eventually(order, lambda ids: ids == [other, mine], timeout=10) == [other, mine]
    # A colleague's are untouched.
    assert (await hub.http.get("/api/v1/onboarding", headers=stays)).json()["done"] == 1
    table = (await hub.http.get("/api/v1/expertise", headers=curator(tenant))).json()["areas"]
    assert table == [{"area": "data", "people": 1, "live_items": 1, "uncovered": False}]

    # Someone outside the program asks content directly.
    erased = await hub.http.post("/api/v1/me/erasure", headers=stays)
    assert erased.status_code == 204
    assert (await hub.http.get("/api/v1/onboarding", headers=stays)).json()["done"] == 0
    assert (await hub.http.get("/api/v1/expertise", headers=curator(tenant))).json() == {
        "areas": []
    }
