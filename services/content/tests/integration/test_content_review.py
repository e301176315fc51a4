"""What the program team reads back: a reviewer's comment on a step, and who acknowledged
which version of the guidelines."""

from __future__ import annotations

from content_helpers import admin, article, curator

from support import ref, token


async def test_a_rejection_keeps_its_comment_for_the_author(hub) -> None:
    tenant = ref("review")
    author = token(tenant, "emp-7")
    made = await hub.http.post(
        "/api/v1/content", headers=author, json=article(title="Our new office")
    )
    assert made.status_code == 201, made.text
    item = made.json()
    submitted = await hub.http.post(
        f"/api/v1/content/{item['id']}/transitions", headers=author, json={"action": "submit"}
    )
    assert submitted.status_code == 200, submitted.text
    assert submitted.json()["comment"] is None

    rejected = await hub.http.post(
        f"/api/v1/content/{item['id']}/transitions",
        headers=curator(tenant),
        json={"action": "reject", "comment": "  Please add a photo of the office.  "},
    )
    assert rejected.status_code == 200, rejected.text
    assert rejected.json()["status"] == "draft"
    assert rejected.json()["comment"] == "Please add a photo of the office."
    assert rejected.json()["comment_by"] == "cur-1"
    # The author reads it on the item.
    read = await hub.http.get(f"/api/v1/content/{item['id']}", headers=author)
    assert read.json()["comment"] == "Please add a photo of the office."

    too_long = await hub.http.post(
        f"/api/v1/content/{item['id']}/transitions",
        headers=curator(tenant),
        json={"action": "approve", "comment": "x" * 2001},
    )
    assert too_long.status_code == 422
    assert too_long.json()["errors"][0]["field"] == "comment"

    # The next step without a comment clears it.
    approved = await hub.http.post(
        f"/api/v1/content/{item['id']}/transitions",
        headers=admin(tenant),
        json={"action": "approve"},
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["comment"] is None


async def test_acknowledgements_of_a_version_are_listed_page_by_page(hub) -> None:
    tenant = ref("acks")
    published = await hub.http.post(
        "/api/v1/guidelines",
        headers=admin(tenant),
        json={"title": "Guidelines", "body": "Be kind.", "acknowledgement_required": True},
    )
    assert published.status_code == 201, published.text
    for sub in ("emp-3", "emp-1", "emp-2"):
        acked = await hub.http.post(
            "/api/v1/guidelines/1/acknowledgements", headers=token(tenant, sub)
        )
        assert acked.status_code == 201, acked.text

    first = await hub.http.get(
        "/api/v1/guidelines/1/acknowledgements", headers=curator(tenant), params={"limit": 2}
    )
    assert first.status_code == 200, first.text
    page = first.json()
    assert [a["employee_id"] for a in page["items"]] == ["emp-1", "emp-2"]
    assert all(a["version"] == 1 and a["acknowledged_at"] for a in page["items"])
    rest = await hub.http.get(
        "/api/v1/guidelines/1/acknowledgements",
        headers=admin(tenant),
        params={"limit": 2, "cursor": page["next_cursor"]},
    )
    assert [a["employee_id"] for a in rest.json()["items"]] == ["emp-3"]
    assert rest.json()["next_cursor"] is None

    # Another tenant sees nothing of it; employees may not list; unknown versions are 404.
    other = await hub.http.get(
        "/api/v1/guidelines/1/acknowledgements", headers=curator(ref("elsewhere"))
    )
    assert other.status_code == 404
    employee = await hub.http.get(
        "/api/v1/guidelines/1/acknowledgements", headers=token(tenant, "emp-1")
    )
    assert employee.status_code == 403
    missing = await hub.http.get("/api/v1/guidelines/9/acknowledgements", headers=admin(tenant))
    assert missing.status_code == 404
