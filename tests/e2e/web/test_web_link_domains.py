"""The sites own posts link to: the program team edits the list; a person writing an own
post is told, beside the link, when readers will first see a page saying where the link
leads; and that page is what a visitor of the short link sees.

Employees here are e06 and e07 only; the tenant's list is set back as it was at the end.
"""

from __future__ import annotations

from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, expect
from web_support import axe_violations, join, new_context, screenshot, sign_in

from support import token

PATH = "/api/v1/settings/link-domains"


def test_the_program_team_lists_sites_and_other_links_show_where_they_lead(
    platform: Any,
    web_url: str,
    browser: Browser,
    desktop: BrowserContext,
    phone: BrowserContext,
) -> None:
    tenant = platform.web_tenant
    admin = token(tenant, "admin", roles=("employee", "admin"))
    share_api = platform.url("share")
    before = httpx.get(f"{share_api}{PATH}", headers=admin, timeout=10).json()["domains"]
    try:
        # The program team: a wrong entry is named next to the field, then the list saved.
        page = desktop.new_page()
        sign_in(page, web_url, tenant, "admin", "/program/run/settings")
        page.goto(f"{web_url}/program/run/settings#link-domains")
        field = page.locator("#link_domains")
        field.fill("linkedin.com\nhttps://example.org/path")
        page.get_by_role("button", name="Save list of sites").click()
        error = page.locator("#link_domains-error")
        expect(error).to_contain_text("https://example.org/path is not a site's domain")
        expect(field).to_have_attribute("aria-invalid", "true")
        assert "link_domains-error" in (field.get_attribute("aria-describedby") or "")
        assert axe_violations(page) == []
        field.fill("linkedin.com\nExample.org")
        page.get_by_role("button", name="Save list of sites").click()
        page.wait_for_url(f"{web_url}/program/run/settings?saved=domains#link-domains")
        expect(page.locator("#link_domains")).to_have_value("example.org\nlinkedin.com")
        saved = httpx.get(f"{share_api}{PATH}", headers=token(tenant, "e06"), timeout=10)
        assert saved.json() == {"domains": ["example.org", "linkedin.com"]}

        # A person writing an own post: the note beside the link, in their language.
        join(platform, tenant, "e06")
        own = phone.new_page()
        sign_in(own, web_url, tenant, "e06", "/share/own")
        own.goto(f"{web_url}/share/own")
        note = own.locator("#url-note")
        own.locator("#url").fill("https://blog.example.org/post")
        own.wait_for_timeout(1200)
        expect(note).to_have_text("")
        own.locator("#url").fill("https://linkedin.com@elsewhere.example/post?x=<b>")
        expect(note).to_contain_text(
            "elsewhere.example is not on the company's list of sites, so readers will first "
            "see a page saying where the link leads"
        )
        assert axe_violations(own) == []
        own.locator("#text").fill("Worth reading")
        own.locator("form[action='/share/own'] button[type=submit]").click()
        own.wait_for_url(f"{web_url}/shared/*")
        expect(own.locator("main")).to_contain_text("readers first see a page saying where")
        tracked = own.locator("#tracked").input_value()

        # A visitor of the short link: the page saying where it leads, not a redirect.
        visitor = desktop.new_page()
        response = visitor.goto(tracked)
        assert response is not None and response.status == 200
        assert response.headers["cache-control"] == "no-store"
        assert "default-src 'none'" in response.headers["content-security-policy"]
        expect(visitor.locator("h1")).to_have_text("This link leads to elsewhere.example")
        expect(visitor.locator("main")).to_contain_text("not checked the page")
        expect(visitor.locator(".target strong")).to_have_text("elsewhere.example")
        go_on = visitor.get_by_role("link", name="Continue to elsewhere.example")
        assert go_on.get_attribute("rel") == "noopener noreferrer nofollow"
        assert (go_on.get_attribute("href") or "").startswith(
            "https://linkedin.com@elsewhere.example/post?x=%3Cb%3E"
        )
        assert visitor.url == tracked  # no automatic redirect
        assert axe_violations(visitor) == []
        screenshot(visitor, "short-link-interstitial-desktop")
        small = phone.new_page()
        small.goto(tracked)
        assert axe_violations(small) == []
        screenshot(small, "short-link-interstitial-phone")

        # In Swedish, when the page opens with the link already in it (after a refusal).
        swedish = new_context(browser, "phone", locale="sv-SE")
        try:
            join(platform, tenant, "e07")
            sv = swedish.new_page()
            sign_in(sv, web_url, tenant, "e07", "/share/own")
            sv.goto(f"{web_url}/share/own")
            sv.locator("#url").fill("https://elsewhere.example/sida")
            sv.locator("#text").fill("x" * 3001)
            sv.locator("form[action='/share/own'] button[type=submit]").click()
            expect(sv.locator("#url-note")).to_contain_text(
                "elsewhere.example finns inte på företagets lista över webbplatser"
            )
            assert axe_violations(sv) == []
        finally:
            swedish.close()
        screenshot(page, "program-run-settings-link-domains-desktop")
    finally:
        httpx.put(f"{share_api}{PATH}", headers=admin, json={"domains": before}, timeout=10)
    after = httpx.get(f"{share_api}{PATH}", headers=admin, timeout=10).json()["domains"]
    assert after == before
