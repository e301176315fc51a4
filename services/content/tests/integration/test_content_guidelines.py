"""Sharing guidelines with versions and acknowledgements; the tenant's disclosure hashtag."""

from __future__ import annotations

from content_helpers import admin, article, curator, events_of

from contracts.topics import GUIDELINES_ACKNOWLEDGED, GUIDELINES_PUBLISHED
from support import ref, token


async def _publish(hub, tenant: str, title: str, required: bool = True):
    response = await hub.http.post(
        "/api/v1/guidelines",
        headers=admin(tenant),
        json={"title": title, "body": "Be kind. Disclose.", "acknowledgement_required": required},
    )
    assert response.status_code == 201, response.text
    return response.json()


async def test_versions_and_acknowledgements_are_recorded_and_published(hub) -> None:
    tenant = ref("guide")
    me = token(tenant, "emp-1")
    assert (await hub.http.get("/api/v1/guidelines/current", headers=me)).status_code == 404

    first = await _publish(hub, tenant, "Sharing guidelines")
    assert first["version"] == 1
    current = (await hub.http.get("/api/v1/guidelines/current", headers=me)).json()
    assert current["version"] == 1 and current["acknowledged_at"] is None

    acked = await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=me)
    assert acked.status_code == 201, acked.text
    again = await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=me)
    assert again.status_code == 200 and again.json() == acked.json()
    current = (await hub.http.get("/api/v1/guidelines/current", headers=me)).json()
    assert current["acknowledged_at"] == acked.json()["acknowledged_at"]

    second = await _publish(hub, tenant, "Sharing guidelines, 2nd edition", required=False)
    assert second["version"] == 2
    stale = await hub.http.post("/api/v1/guidelines/1/acknowledgements", headers=me)
    assert stale.status_code == 409 and stale.json()["current_version"] == 2
    missing = await hub.http.post("/api/v1/guidelines/3/acknowledgements", headers=me)
    assert missing.status_code == 404
    assert (await hub.http.get("/api/v1/guidelines/current", headers=me)).json()[
        "acknowledged_at"
    ] is None
    assert (await hub.http.get("/api/v1/guidelines/1", headers=me)).json()["title"] == (
        "Sharing guidelines"
    )
    listed = await hub.http.get("/api/v1/guidelines?limit=1", headers=curator(tenant))
    page = listed.json()
    assert [g["version"] for g in page["items"]] == [2]
    rest = await hub.http.get(
        "/api/v1/guidelines", headers=curator(tenant), params={"cursor": page["next_cursor"]}
    )
    assert [g["version"] for g in rest.json()["items"]] == [1]

    published = await events_of(GUIDELINES_PUBLISHED, tenant, at_least=2)
    assert [(e["data"]["version"], e["data"]["acknowledgement_required"]) for e in published] == [
        (1, True),
        (2, False),
    ]
    assert {e["data"]["published_by"] for e in published} == {"adm-1"}
    # Acknowledging twice announced it once.
    acknowledged = await events_of(GUIDELINES_ACKNOWLEDGED, tenant, at_least=2, timeout=3)
    assert [(e["data"]["employee_id"], e["data"]["guidelines_version"]) for e in acknowledged] == [
        ("emp-1", 1)
    ]


async def test_only_admins_publish_guidelines_and_change_settings(hub) -> None:
    tenant = ref("guide")
    for headers in (curator(tenant), token(tenant, "emp-1")):
        response = await hub.http.post(
            "/api/v1/guidelines", headers=headers, json={"title": "t", "body": "b"}
        )
        assert response.status_code == 403
        response = await hub.http.put(
            "/api/v1/settings", headers=headers, json={"disclosure_hashtag": "#x"}
        )
        assert response.status_code == 403
    assert (await hub.http.get("/api/v1/guidelines", headers=token(tenant))).status_code == 403


async def test_the_disclosure_hashtag_is_added_and_counted(hub) -> None:
    tenant = ref("tags")
    saved = await hub.http.put(
        "/api/v1/settings", headers=admin(tenant), json={"disclosure_hashtag": "#employee"}
    )
    assert saved.json() == {"disclosure_hashtag": "#employee"}
    created = await hub.http.post(
        "/api/v1/content",
        headers=curator(tenant),
        json=article(
            suggested_texts={"linkedin": "Proud of this", "x": "Already #Employee tagged"}
        ),
    )
    assert created.json()["suggested_texts"] == {
        "linkedin": "Proud of this #employee",
        "x": "Already #Employee tagged",
    }
    # 246 + " #employee" + the attached link (1 + 23) = 280 fits; one more does not.
    fits = await hub.http.post(
        "/api/v1/content", headers=curator(tenant), json=article(suggested_texts={"x": "a" * 246})
    )
    assert fits.status_code == 201, fits.text
    over = await hub.http.post(
        "/api/v1/content",
        headers=curator(tenant),
        json=article(suggested_texts={"x": "a" * 247, "linkedin": "b" * 2991}),
    )
    assert over.status_code == 422
    assert over.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in over.json()["errors"]} == {
        "suggested_texts.x",
        "suggested_texts.linkedin",
    }
    cleared = await hub.http.put(
        "/api/v1/settings", headers=admin(tenant), json={"disclosure_hashtag": None}
    )
    assert cleared.json() == {"disclosure_hashtag": None}
    plain = await hub.http.post(
        "/api/v1/content", headers=curator(tenant), json=article(suggested_texts={"x": "Hi"})
    )
    assert plain.json()["suggested_texts"] == {"x": "Hi"}
