"""Every endpoint answers bad input with a 4xx problem+json that names the field."""

from __future__ import annotations

import base64
import json

import pytest
from content_helpers import admin, article, curator

from support import ref, token

TENANT = ref("bad")
ODD_CURSOR = base64.urlsafe_b64encode(json.dumps({"p": 7}).encode()).decode()


@pytest.fixture(scope="module")
async def item_id(hub) -> str:
    response = await hub.http.post("/api/v1/content", headers=curator(TENANT), json=article())
    return response.json()["id"]


CASES = [
    ("post", "/api/v1/content", {"title": "", "kind": "article", "url": "https://e.com"}, "title"),
    ("post", "/api/v1/content", {"title": "t", "kind": "video"}, "kind"),
    ("post", "/api/v1/content", {"title": "t", "kind": "article"}, "url"),
    ("post", "/api/v1/content", {"title": "t", "kind": "job"}, "job.apply_url"),
    ("post", "/api/v1/content", article(colour="red"), "colour"),
    ("post", "/api/v1/content", article(publish_at="2030-01-01T10:00:00"), "publish_at"),
    (
        "post",
        "/api/v1/content",
        article(publish_at="2030-01-02T00:00:00Z", expires_at="2030-01-01T00:00:00Z"),
        "expires_at",
    ),
    ("post", "/api/v1/content", article(audience={"groups": [""]}), "audience.groups[0]"),
    ("post", "/api/v1/content", article(audience={"languages": ["x y"]}), "audience.languages[0]"),
    ("post", "/api/v1/content", article(suggested_texts={"myspace": "hi"}), "suggested_texts"),
    ("post", "/api/v1/content", article(job={"apply_url": "nope"}), "job.apply_url"),
    ("get", "/api/v1/content?limit=0", None, "limit"),
    ("get", "/api/v1/content?status=lost", None, "status"),
    ("get", "/api/v1/content?cursor=%%%", None, "cursor"),
    ("get", "/api/v1/content/" + "x" * 65, None, "content_id"),
    ("patch", "/api/v1/content/{item}", {"title": None}, "title"),
    ("patch", "/api/v1/content/{item}", {"url": "not a url"}, "url"),
    ("patch", "/api/v1/content/{item}", {"suggested_texts": {"x": "y" * 300}}, "suggested_texts.x"),
    ("post", "/api/v1/content/{item}/transitions", {"action": "publish"}, "action"),
    ("post", "/api/v1/content/{item}/transitions", {}, "action"),
    ("get", "/api/v1/feed?limit=101", None, "limit"),
    ("get", "/api/v1/feed?kind=video", None, "kind"),
    ("get", "/api/v1/feed?cursor=%%%", None, "cursor"),
    ("get", f"/api/v1/feed?cursor={ODD_CURSOR}", None, "cursor"),
    ("post", "/api/v1/previews", {"url": "not a url"}, "url"),
    ("post", "/api/v1/previews", {}, "url"),
    ("post", "/api/v1/guidelines", {"title": "", "body": "b"}, "title"),
    (
        "post",
        "/api/v1/guidelines",
        {"title": "t", "body": "b", "acknowledgement_required": "?"},
        "acknowledgement_required",
    ),
    ("get", "/api/v1/guidelines?limit=500", None, "limit"),
    ("get", f"/api/v1/guidelines?cursor={ODD_CURSOR}", None, "cursor"),
    ("get", "/api/v1/guidelines/0", None, "version"),
    ("get", "/api/v1/guidelines/latest", None, "version"),
    ("post", "/api/v1/guidelines/-1/acknowledgements", None, "version"),
    ("put", "/api/v1/settings", {"disclosure_hashtag": "employee"}, "disclosure_hashtag"),
    ("put", "/api/v1/settings", {"hashtag": "#employee"}, "hashtag"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), CASES)
async def test_bad_input_is_a_problem_naming_the_field(hub, item_id, method, path, body, field):
    headers = admin(TENANT)
    kwargs = {"json": body} if body is not None else {}
    response = await hub.http.request(
        method.upper(), path.replace("{item}", item_id), headers=headers, **kwargs
    )
    assert 400 <= response.status_code < 500, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    named = [e["field"] for e in problem.get("errors", [])]
    assert any(n == field or n.startswith(field + ".") for n in named) or problem[
        "detail"
    ].startswith(field + ":"), problem


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/api/v1/content"),
        ("get", "/api/v1/feed"),
        ("get", "/api/v1/settings"),
        ("get", "/api/v1/guidelines/current"),
        ("post", "/api/v1/previews"),
    ],
)
async def test_no_token_is_a_401_problem(hub, method, path) -> None:
    response = await hub.http.request(method.upper(), path)
    assert response.status_code == 401
    assert response.headers["content-type"] == "application/problem+json"


async def test_employees_cannot_use_curator_endpoints(hub, item_id) -> None:
    me = token(TENANT, "emp-1")
    assert (await hub.http.get("/api/v1/content", headers=me)).status_code == 403
    transition = await hub.http.post(
        f"/api/v1/content/{item_id}/transitions", headers=me, json={"action": "archive"}
    )
    assert transition.status_code == 403
    edit = await hub.http.patch(f"/api/v1/content/{item_id}", headers=me, json={"title": "x"})
    assert edit.status_code == 403


@pytest.mark.parametrize(
    ("field", "given"),
    [
        ("suggested_texts", {"suggested_texts": {"linkedin": "Come and see"}}),
        (
            "text_variants",
            {
                "suggested_texts": {"linkedin": "Come and see"},
                "text_variants": {"linkedin": ["Have a look"]},
            },
        ),
        ("audience", {"audience": {"groups": ["sales"]}}),
    ],
)
async def test_null_empties_texts_variants_and_audience(hub, field, given) -> None:
    # PATCH's `null` removes an optional field; these three are then empty.
    created = await hub.http.post("/api/v1/content", headers=curator(TENANT), json=article(**given))
    assert created.status_code == 201, created.text
    item = created.json()
    assert any(item[field].values())
    response = await hub.http.patch(
        f"/api/v1/content/{item['id']}", headers=curator(TENANT), json={field: None}
    )
    assert response.status_code == 200, response.text
    read = await hub.http.get(f"/api/v1/content/{item['id']}", headers=curator(TENANT))
    assert not any(read.json()[field].values())
    if field == "text_variants":
        assert read.json()["suggested_texts"] == item["suggested_texts"]


async def test_null_texts_while_variants_remain_is_a_422_naming_them(hub) -> None:
    created = await hub.http.post(
        "/api/v1/content",
        headers=curator(TENANT),
        json=article(
            suggested_texts={"linkedin": "Come and see"},
            text_variants={"linkedin": ["Have a look"]},
        ),
    )
    response = await hub.http.patch(
        f"/api/v1/content/{created.json()['id']}",
        headers=curator(TENANT),
        json={"suggested_texts": None},
    )
    assert response.status_code == 422, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert [e["field"] for e in response.json()["errors"]] == ["text_variants.linkedin"]
