"""`/l/{code}`: bots and previews never count, people count once each, the target is fixed."""

from __future__ import annotations

import httpx
import pytest
from share_stack import ShareStack, TopicTail, publish_content
from share_user_agents import BOTS, BROWSERS

from support import eventually, ref, token

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


async def _new_share(http: httpx.AsyncClient, tenant: str, employee: str = "e1") -> dict:
    me = token(tenant, employee)
    joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
    assert joined.status_code in (200, 201)
    content_id = await publish_content(tenant, url="https://careers.example.com/jobs/42?lang=en")

    async def attempt() -> httpx.Response:
        return await http.post(
            "/api/v1/shares", headers=me, json={"content_id": content_id, "network": "linkedin"}
        )

    shared = await eventually(attempt, lambda r: r.status_code == 201)
    return shared.json()


def _clicks(records: list[dict], share_id: str) -> list[dict]:
    return [r for r in records if r["data"]["share_id"] == share_id]


async def test_bots_previews_heads_and_own_clicks_never_count_people_do(
    share_stack: ShareStack,
) -> None:
    tenant = ref("acme")
    tail = await TopicTail("chorus.engagement-observed.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            share = await _new_share(http, tenant)
            path = f"{share_stack.links_url}/l/{share['short_code']}"
            for agent in BOTS:
                response = await http.get(path, headers={"User-Agent": agent})
                # Previews still get where the link leads, to render their card.
                assert response.status_code == 302
                assert response.headers["location"] == share["target_url"]
            head = await http.head(path, headers={"User-Agent": BROWSER})
            assert head.status_code == 302
            cookie = await http.post(
                "/api/v1/advocates/me/link-cookie", headers=token(tenant, "e1")
            )
            assert cookie.status_code == 204
            own = await http.get(path, headers={"User-Agent": BROWSER})
            assert own.status_code == 302
            http.cookies.clear()

            browsers = BROWSERS
            for agent in browsers:
                response = await http.get(path, headers={"User-Agent": agent})
                assert response.status_code == 302
                assert response.headers["location"] == share["target_url"]

        events = await tail.until(lambda rs: _clicks(rs, share["id"]), len(browsers))
        assert len(events) == len(browsers)
        assert all(e["data"]["kind"] == "click" for e in events)
        assert all(e["data"]["source"] == "redirect" for e in events)
        assert all(e["data"]["unique"] for e in events)
        assert len({e["data"]["visitor"] for e in events}) == len(browsers)
        assert len({e["id"] for e in events}) == len(browsers)
        assert all("127.0.0.1" not in e["data"]["visitor"] for e in events)
    finally:
        await tail.stop()


async def test_repeated_clicks_make_one_unique_click(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    tail = await TopicTail("chorus.engagement-observed.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            share = await _new_share(http, tenant)
            link = f"{share_stack.links_url}/l/{share['short_code']}"
            for _ in range(5):
                response = await http.get(link, headers={"User-Agent": BROWSER})
                assert response.status_code == 302
            other = await http.get(link, headers={"User-Agent": BROWSER + " Edg/131"})
            assert other.status_code == 302

            async def history() -> httpx.Response:
                return await http.get("/api/v1/shares", headers=token(tenant, "e1"))

            counted = await eventually(
                history,
                lambda r: r.json()["items"][0]["engagement"].get("click") == 6,
                timeout=90,
            )
            assert counted.json()["items"][0]["engagement"]["unique_click"] == 2

        events = _clicks(await tail.poll(2), share["id"])
        assert len(events) == 6
        # Each visitor's clicks are decided in order (LinkClicked is keyed by visitor); the
        # two visitors' may be published in either order.
        by_visitor: dict[str, list[bool]] = {}
        for event in events:
            by_visitor.setdefault(event["data"]["visitor"], []).append(event["data"]["unique"])
        assert sorted(by_visitor.values(), key=len) == [[True], [True, False, False, False, False]]
    finally:
        await tail.stop()


@pytest.mark.parametrize("front", ["links listener", "api"])
async def test_no_tampering_changes_the_target(share_stack: ShareStack, front: str) -> None:
    tenant = ref("acme")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as api:
        share = await _new_share(api, tenant)
    code = share["short_code"]
    base = share_stack.links_url if front == "links listener" else share_stack.url
    async with httpx.AsyncClient(base_url=base, timeout=10) as http:
        for query in (
            "?url=https://evil.example.net",
            "?next=//evil.example.net",
            "?redirect=https%3A%2F%2Fevil.example.net&utm_source=evil",
            "?u=javascript:alert(1)",
            "?url=https://evil.example.net&url=https://evil2.example.net",
            "?" + "a" * 2000,
        ):
            response = await http.get(f"/l/{code}{query}", headers={"User-Agent": BROWSER})
            assert response.status_code == 302, query
            assert response.headers["location"] == share["target_url"], query
            assert response.headers["location"].startswith("https://careers.example.com/jobs/42")
        for path in (
            f"/l/{code}/https://evil.example.net",
            f"/l/{code}%2F..%2F..",
            "/l/https:%2F%2Fevil.example.net",
            "/l/..%2F..%2Fapi",
            "/l/" + "A" * 40,
            "/l/unknownCode1",
        ):
            response = await http.get(path, headers={"User-Agent": BROWSER})
            assert response.status_code == 404, path
            assert "location" not in response.headers
        missing = await http.get("/l/zzzzzzzz")
        assert missing.status_code == 404
        assert missing.headers["content-type"].startswith("text/html")
        assert "Link not found" in missing.text


def test_the_lists_hold_at_least_thirty_of_each() -> None:
    assert len(BOTS) >= 30
    assert len(BROWSERS) >= 30
