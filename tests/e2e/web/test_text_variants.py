"""No two colleagues post the same words, in a real browser: a curator writes three
versions of the LinkedIn text in the composer, two colleagues are offered different ones
with a nudge to make it their own, and one edits it and shares; the share records which
version it started from and that it was edited. The composer and the share panel pass axe."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from playwright.sync_api import Browser, Page, expect
from web_support import axe_violations, join, new_context, screenshot, sign_in, wait_shareable

from support import token

VERSIONS = [
    "Our new office in Oslo opens on Monday, and I am proud of what we built.",
    "Come and see where we work: the new Oslo office opens its doors on Monday.",
    "Light, plants and a view over the fjord: this is our new office in Oslo.",
]
NUDGE = "Make it your own: colleagues share this too — a personal sentence works best."


def _clean(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where}: {violations}"


def _item_titled(platform: Any, tenant: str, title: str) -> dict[str, Any]:
    found = httpx.get(
        f"{platform.url('content')}/api/v1/content",
        params={"status": "published"},
        headers=token(tenant, "curator", roles=("employee", "curator")),
        timeout=10,
    )
    found.raise_for_status()
    [item] = [i for i in found.json()["items"] if i["title"] == title]
    return dict(item)


def test_colleagues_get_different_versions_and_one_makes_it_their_own(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    title = f"Our new office in Oslo {int(time.time())}"

    # 1. The curator writes three versions of the LinkedIn text.
    curator = new_context(browser, "desktop")
    page = curator.new_page()
    sign_in(page, web_url, tenant, "curator", "/program/content/new")
    page.get_by_label("Address of the page").fill("https://www.example.com/office")
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Text for LinkedIn").fill(VERSIONS[0])
    page.get_by_text("Other versions for LinkedIn (optional)").click()
    page.get_by_label("Version 2 for LinkedIn").fill(VERSIONS[1])
    page.get_by_label("Version 3 for LinkedIn").fill(VERSIONS[2])
    # Each version has the network's counter.
    expect(page.locator("#text_linkedin_3-counter")).to_have_text(
        f"{len(VERSIONS[2])} / 3,000 characters"
    )
    page.get_by_label("Publish now").check()
    _clean(page, "composer with versions, desktop")
    screenshot(page, "composer-text-versions-desktop")
    page.get_by_role("button", name="Save the item").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Content queue")
    curator.close()

    item = _item_titled(platform, tenant, title)
    assert item["suggested_texts"]["linkedin"] == VERSIONS[0]
    assert item["text_variants"] == {"linkedin": VERSIONS[1:]}
    wait_shareable(platform, tenant, item["id"])

    # 2. Two colleagues open the share panel: each gets a version, not the same one.
    join(platform, tenant, "e36")
    join(platform, tenant, "e37")
    first = new_context(browser, "desktop")
    second = new_context(browser, "phone")
    anna, bo = first.new_page(), second.new_page()
    sign_in(anna, web_url, tenant, "e36", f"/share/{item['id']}?network=linkedin")
    sign_in(bo, web_url, tenant, "e37", f"/share/{item['id']}?network=linkedin")
    offered = []
    for page in (anna, bo):
        expect(page.get_by_role("heading", level=1)).to_contain_text("Share")
        expect(page.get_by_text(NUDGE)).to_be_visible()
        text = page.get_by_label("Your text").input_value()
        assert text in VERSIONS
        offered.append(text)
    assert offered[0] != offered[1]
    _clean(bo, "share panel with a version, phone")
    screenshot(bo, "share-text-version-phone")
    # Coming back, the person keeps their version.
    bo.reload()
    expect(bo.get_by_label("Your text")).to_have_value(offered[1])
    second.close()

    # 3. One of them makes it their own and shares it.
    own = f"I walked through it today. {offered[0]}"
    anna.get_by_label("Your text").fill(own)
    _clean(anna, "share panel, desktop")
    screenshot(anna, "share-text-version-desktop")
    with first.expect_page() as popup_info:
        anna.get_by_role("button", name=re.compile("Copy text and open LinkedIn")).click()
    popup_info.value.close()
    anna.wait_for_url(re.compile(r"/shared/"))
    first.close()

    shares = httpx.get(
        f"{platform.url('share')}/api/v1/shares",
        params={"employee_id": "e36"},
        headers=token(tenant, "e36"),
        timeout=10,
    ).json()["items"]
    [share] = [s for s in shares if s["content_id"] == item["id"]]
    assert share["text"] == own
    assert share["text_variant"] == VERSIONS.index(offered[0])
    assert share["text_edited"] is True
