"""Several wordings of a suggested text: stored, checked like it, and announced."""

from __future__ import annotations

from content_helpers import admin, article, curator, events_of

from contracts.topics import CONTENT_PUBLISHED, CONTENT_UPDATED
from support import ref


async def test_variants_are_stored_announced_and_edited(hub) -> None:
    tenant = ref("variants")
    await hub.http.put(
        "/api/v1/settings", headers=admin(tenant), json={"disclosure_hashtag": "#employee"}
    )
    created = await hub.http.post(
        "/api/v1/content",
        headers=curator(tenant),
        json=article(
            suggested_texts={"linkedin": "We opened an office", "x": "New office"},
            text_variants={"linkedin": ["Come and see our office", "  ", "Our new home"]},
        ),
    )
    assert created.status_code == 201, created.text
    item = created.json()
    # Blank ones are dropped; each gets the disclosure like the suggested text.
    assert item["text_variants"] == {
        "linkedin": ["Come and see our office #employee", "Our new home #employee"]
    }
    assert item["suggested_texts"]["linkedin"] == "We opened an office #employee"

    [published] = await events_of(CONTENT_PUBLISHED, tenant)
    assert published["data"]["text_variants"] == item["text_variants"]
    assert published["data"]["suggested_texts"] == item["suggested_texts"]

    edited = await hub.http.patch(
        f"/api/v1/content/{item['id']}",
        headers=curator(tenant),
        json={"text_variants": {"linkedin": ["Only one other"], "x": ["Other short one"]}},
    )
    assert edited.status_code == 200, edited.text
    assert edited.json()["text_variants"] == {
        "linkedin": ["Only one other #employee"],
        "x": ["Other short one #employee"],
    }
    [updated] = await events_of(CONTENT_UPDATED, tenant)
    assert "text_variants" in updated["data"]["changed_fields"]
    assert updated["data"]["text_variants"]["x"] == ["Other short one #employee"]
    got = await hub.http.get(f"/api/v1/content/{item['id']}", headers=curator(tenant))
    assert got.json()["text_variants"] == edited.json()["text_variants"]


async def test_each_variant_keeps_its_networks_limit(hub) -> None:
    tenant = ref("variants-long")
    over = await hub.http.post(
        "/api/v1/content",
        headers=curator(tenant),
        json=article(
            suggested_texts={"x": "Fine"},
            # With the attached link (1 + 23), 256 characters fit X's 280 and 257 do not.
            text_variants={"x": ["a" * 256, "b" * 257], "facebook": ["No suggested text"]},
        ),
    )
    assert over.status_code == 422
    assert over.headers["content-type"] == "application/problem+json"
    assert {e["field"] for e in over.json()["errors"]} == {
        "text_variants.x.1",
        "text_variants.facebook",
    }
    too_many = await hub.http.post(
        "/api/v1/content",
        headers=curator(tenant),
        json=article(suggested_texts={"x": "Fine"}, text_variants={"x": ["v"] * 5}),
    )
    assert too_many.status_code == 422
    assert any(e["field"].startswith("text_variants") for e in too_many.json()["errors"])


async def test_an_item_without_variants_has_none(hub) -> None:
    tenant = ref("variants-none")
    created = await hub.http.post(
        "/api/v1/content", headers=curator(tenant), json=article(suggested_texts={"x": "Hi"})
    )
    assert created.json()["text_variants"] == {}
