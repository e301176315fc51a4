"""The tenant's link domains: an own post's short link redirects only to them; to anywhere
else it shows a page saying where it leads, and the click still counts once."""

from __future__ import annotations

import html

import httpx
import pytest
from share_stack import ShareStack, TopicTail, publish_content

from contracts.link_domains import DEFAULT_LINK_DOMAINS
from support import eventually, ref, token

BROWSER = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
PATH = "/api/v1/settings/link-domains"


def _admin(tenant: str) -> dict[str, str]:
    return token(tenant, "a1", roles=("admin",))


async def _join(http: httpx.AsyncClient, tenant: str, employee: str = "e1") -> dict[str, str]:
    me = token(tenant, employee)
    joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
    assert joined.status_code in (200, 201)
    return me


async def _own_post(http: httpx.AsyncClient, tenant: str, url: str) -> dict:
    me = await _join(http, tenant)
    shared = await http.post(
        "/api/v1/shares", headers=me, json={"network": "linkedin", "url": url, "text": "Read"}
    )
    assert shared.status_code == 201, shared.text
    return shared.json()


async def test_the_settings_default_to_the_networks_and_only_admins_change_them(
    share_stack: ShareStack,
) -> None:
    tenant = ref("acme")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        unset = await http.get(PATH, headers=token(tenant, "e1"))
        assert unset.status_code == 200
        assert unset.json() == {"domains": list(DEFAULT_LINK_DOMAINS)}

        refused = await http.put(PATH, headers=token(tenant, "e1"), json={"domains": ["a.com"]})
        assert refused.status_code == 403

        saved = await http.put(
            PATH,
            headers=_admin(tenant),
            json={"domains": ["Example.COM", "bücher.example", "linkedin.com.", "example.com"]},
        )
        assert saved.status_code == 200, saved.text
        assert saved.json() == {"domains": ["example.com", "linkedin.com", "xn--bcher-kva.example"]}
        assert (await http.get(PATH, headers=token(tenant, "e1"))).json() == saved.json()
        other = await http.get(PATH, headers=token(ref("acme"), "e1"))
        assert other.json() == {"domains": list(DEFAULT_LINK_DOMAINS)}

        for bad in ("https://example.com", "example.com/path", "example.com:443", "*.x.com"):
            invalid = await http.put(
                PATH, headers=_admin(tenant), json={"domains": ["linkedin.com", bad]}
            )
            assert invalid.status_code == 422, bad
            assert invalid.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in invalid.json()["errors"]] == ["domains[1]"], bad
        assert (await http.get(PATH, headers=token(tenant, "e1"))).json() == saved.json()

        emptied = await http.put(PATH, headers=_admin(tenant), json={"domains": []})
        assert emptied.json() == {"domains": []}


@pytest.mark.parametrize("front", ["links listener", "api"])
async def test_an_own_post_on_the_list_redirects(share_stack: ShareStack, front: str) -> None:
    tenant = ref("acme")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        listed = await http.put(PATH, headers=_admin(tenant), json={"domains": ["example.org"]})
        assert listed.status_code == 200
        share = await _own_post(http, tenant, "https://blog.Example.org/post")
        assert share["interstitial"] is False
        base = share_stack.links_url if front == "links listener" else share_stack.url
        response = await http.get(
            f"{base}/l/{share['short_code']}", headers={"User-Agent": BROWSER}
        )
        assert response.status_code == 302
        assert response.headers["location"] == share["target_url"]


@pytest.mark.parametrize("front", ["links listener", "api"])
async def test_an_own_post_off_the_list_shows_where_it_leads_and_counts_once(
    share_stack: ShareStack, front: str
) -> None:
    tenant = ref("acme")
    tail = await TopicTail("chorus.engagement-observed.v1").start()
    try:
        async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
            listed = await http.put(
                PATH, headers=_admin(tenant), json={"domains": ["linkedin.com"]}
            )
            assert listed.status_code == 200
            # The userinfo is not the host: this leads to evil.example.
            share = await _own_post(http, tenant, 'https://linkedin.com@evil.example/a?x="<script>')
            assert share["interstitial"] is True
            base = share_stack.links_url if front == "links listener" else share_stack.url
            link = f"{base}/l/{share['short_code']}"
            page = await http.get(link, headers={"User-Agent": BROWSER})
            assert page.status_code == 200
            assert "location" not in page.headers
            assert page.headers["content-type"].startswith("text/html")
            assert page.headers["cache-control"] == "no-store"
            assert page.headers["x-robots-tag"].startswith("noindex")
            csp = page.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp
            target = share["target_url"]
            assert html.escape(target, quote=True) in page.text
            assert "<script>" not in page.text
            assert "<strong>evil.example</strong>" in page.text
            assert 'rel="noopener noreferrer nofollow">Continue to evil.example</a>' in page.text
            assert "http-equiv" not in page.text.lower()
            # A crawler's user agent gets the same page, never the redirect.
            bot = await http.get(link, headers={"User-Agent": "Googlebot/2.1"})
            assert bot.status_code == 200 and "location" not in bot.headers

            async def history() -> httpx.Response:
                return await http.get("/api/v1/shares", headers=token(tenant, "e1"))

            counted = await eventually(
                history,
                lambda r: r.json()["items"][0]["engagement"].get("click") == 1,
                timeout=90,
            )
            assert counted.json()["items"][0]["interstitial"] is True
        events = [r for r in await tail.poll(2) if r["data"]["share_id"] == share["id"]]
        assert len(events) == 1
        assert events[0]["data"]["kind"] == "click"
    finally:
        await tail.stop()


async def test_a_content_item_always_redirects(share_stack: ShareStack) -> None:
    tenant = ref("acme")
    async with httpx.AsyncClient(base_url=share_stack.url, timeout=10) as http:
        emptied = await http.put(PATH, headers=_admin(tenant), json={"domains": []})
        assert emptied.status_code == 200
        me = await _join(http, tenant)
        content_id = await publish_content(tenant, url="https://careers.acme.example/jobs/7")

        async def attempt() -> httpx.Response:
            return await http.post(
                "/api/v1/shares", headers=me, json={"content_id": content_id, "network": "x"}
            )

        share = (await eventually(attempt, lambda r: r.status_code == 201)).json()
        assert share["interstitial"] is False
        response = await http.get(
            f"{share_stack.links_url}/l/{share['short_code']}", headers={"User-Agent": BROWSER}
        )
        assert response.status_code == 302
        assert response.headers["location"] == share["target_url"]
