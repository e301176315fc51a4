"""Leaders go first, in a real browser: an admin names the leaders' group (a mistake is
named next to the field), a leader shares a post of their own, a colleague finds it marked
in the feed to react to and reshare, and the analytics page shows the leaders' participation;
the pages pass axe."""

from __future__ import annotations

import re
import time
from typing import Any

from playwright.sync_api import Browser, Page, expect
from web_support import axe_violations, join, new_context, screenshot, sign_in

from support import ref

LEADER = "leader"
COLLEAGUE = "e05"


def _reload_until(page: Page, selector: str, timeout: float = 30) -> None:
    """The feed and the figures follow events: reload until `selector` is there."""
    deadline = time.monotonic() + timeout
    while not page.locator(selector).count():
        assert time.monotonic() < deadline, f"{selector} never appeared on {page.url}"
        time.sleep(1)
        page.reload()


def test_a_leaders_own_post_reaches_colleagues_and_their_participation_counts(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    post = f"https://www.linkedin.com/posts/lena-leader_{ref('why')}"
    title = "Ten years in: why I still love hiring here"

    # The admin names the leaders' group.
    admin = new_context(browser, "desktop")
    page = admin.new_page()
    sign_in(page, web_url, tenant, "admin", "/program/run/leaders")
    expect(page.get_by_role("heading", level=1)).to_have_text("Leaders")
    page.get_by_label("Group", exact=True).fill("the leaders")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#leaders_group-error")).to_contain_text("without spaces")
    assert axe_violations(page) == []
    page.get_by_label("Group", exact=True).fill("leadership")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.get_by_role("status").first).to_contain_text("shown to every colleague")
    expect(page.get_by_label("Group", exact=True)).to_have_value("leadership")

    # The leader shares a post of their own, and is told that colleagues will see it.
    join(platform, tenant, LEADER)
    leader = new_context(browser, "desktop")
    own = leader.new_page()
    sign_in(own, web_url, tenant, LEADER, "/share/own")
    expect(own.locator(".alert.info")).to_contain_text("You are one of our leaders")
    own.get_by_label("Link", exact=True).fill(post)
    own.get_by_label("Title (optional)").fill(title)
    own.get_by_label("Your text").fill("Ten years in, here is why I still love hiring here.")
    own.get_by_role("button", name="Share", exact=True).click()
    own.wait_for_url(re.compile(r"/shared/\w+$"))
    leader.close()

    # A colleague finds it in the feed, marked, with a reshare and a way to react.
    join(platform, tenant, COLLEAGUE)
    colleague = new_context(browser, "phone")
    feed = colleague.new_page()
    sign_in(feed, web_url, tenant, COLLEAGUE, "/feed")
    card = f"article.card.leader:has(a[href='{post}'])"
    _reload_until(feed, card)
    found = feed.locator(card)
    expect(found.locator(".chip.leader")).to_have_text("From our leaders")
    expect(found.get_by_role("link", name=re.compile("^React to the post"))).to_have_attribute(
        "href", post
    )
    reshare = found.get_by_role("link", name="Reshare")
    expect(reshare).to_have_attribute("href", re.compile(r"^/share/\w+$"))
    found.scroll_into_view_if_needed()
    assert axe_violations(feed) == []
    screenshot(feed, "leaders-feed-phone")
    reshare.click()
    feed.wait_for_url(re.compile(r"/share/\w+$"))
    expect(feed.get_by_role("heading", level=1)).to_contain_text(title)
    colleague.close()

    # The program team sees the leaders' participation as a figure of its own.
    page.goto(f"{web_url}/program/analytics")
    _reload_until(page, "[data-figure='leader_participation'] [data-value='1.0']")
    figure = page.locator("[data-figure='leader_participation']")
    expect(figure.locator("dt")).to_have_text("Leaders taking part")
    expect(figure).to_contain_text("1 of 1 leaders")
    page.goto(f"{web_url}/program/run/leaders")
    expect(page.locator("[data-figure='leader_participation']")).to_have_text("100%")
    assert axe_violations(page) == []
    screenshot(page, "leaders-desktop")
    admin.close()
    on_phone = new_context(browser, "phone")
    page = on_phone.new_page()
    sign_in(page, web_url, tenant, "admin", "/program/run/leaders")
    expect(page.locator("[data-figure='leader_participation']")).to_have_text("100%")
    assert axe_violations(page) == []
    screenshot(page, "leaders-phone")
    on_phone.close()
