"""Buddy pairs in a browser: the program team pairs two colleagues, both accept, one sends
the other a draft of an own post, the buddy comments and reacts, the author posts it
through the own-post share (prefilled, with its tracked link), and the buddy is told and
cheers (in place with JavaScript).

People here are e50..e52 only; every page is checked for WCAG 2.2 AA violations.
"""

from __future__ import annotations

import re
from typing import Any

from playwright.sync_api import Browser, Page, expect
from web_support import axe_violations, join, new_context, screenshot, sign_in

AUTHOR, BUDDY = "e50", "e51"
TEXT = "Our team just shipped the new booking flow. Is it bragging to say I am proud of it?"


def _check(page: Page, name: str) -> None:
    """One h1, no axe violations, and a screenshot to look at."""
    page.wait_for_load_state()
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == [], name
    screenshot(page, name)


def _person(browser: Browser, web_url: str, tenant: str, person: str, size: str) -> Page:
    page = new_context(browser, size).new_page()
    sign_in(page, web_url, tenant, person)
    return page


def test_a_draft_sent_to_a_buddy_commented_on_then_posted(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    join(platform, tenant, AUTHOR)

    # The program team pairs the two of them.
    team = _person(browser, web_url, tenant, "admin", "desktop")
    team.goto(f"{web_url}/program/run/buddies")
    team.get_by_role("button", name="Propose the pair").click()
    expect(team.locator("#first-error")).to_have_text("Choose the first person.")
    _check(team, "buddies-program-refused-desktop")
    team.locator("#first").select_option(AUTHOR)
    team.locator("#second").select_option(BUDDY)
    team.get_by_role("button", name="Propose the pair").click()
    team.wait_for_url(re.compile(r"/program/run/buddies\?saved=paired$"))
    expect(team.locator("table").first).to_contain_text("Employee 50 & Employee 51")
    _check(team, "buddies-program-desktop")

    # Both say yes before anything starts.
    author = _person(browser, web_url, tenant, AUTHOR, "desktop")
    buddy = _person(browser, web_url, tenant, BUDDY, "phone")
    for page in (author, buddy):
        page.goto(f"{web_url}/buddy")
        expect(page.locator("#pair-title")).to_contain_text("A buddy for you")
        page.get_by_role("button", name="Accept").click()
        page.wait_for_url(re.compile(r"/buddy\?done=accepted$"))
    _check(buddy, "buddy-accepted-phone")
    author.reload()
    expect(author.locator("#pair-title")).to_have_text("You and Employee 51")

    # A draft: without text it is refused next to the field, then sent.
    author.get_by_role("button", name="Send to Employee 51").click()
    expect(author.locator("#text-error")).to_have_text("Write the post you want your buddy to see.")
    expect(author.locator("#text")).to_have_attribute("aria-invalid", "true")
    _check(author, "buddy-draft-refused-desktop")
    author.locator("#text").fill(TEXT)
    author.locator("#url").fill("https://www.example.com/booking")
    author.get_by_role("button", name="Send to Employee 51").click()
    author.wait_for_url(re.compile(r"/buddy\?done=sent#my-drafts$"))
    expect(author.locator("#my-drafts .buddy-draft")).to_contain_text("No feedback yet.")

    # The buddy comments and reacts; there is nothing to edit the draft with.
    buddy.reload()
    draft = buddy.locator("#to-me .buddy-draft").first
    expect(draft.locator(".draft-text")).to_have_text(TEXT)
    assert draft.locator("textarea").count() == 1  # the comment, not the draft
    draft.get_by_label("Your comment").fill("Not bragging at all. Say what it changes for people.")
    draft.get_by_role("button", name="Send comment").click()
    buddy.wait_for_url(re.compile(r"/buddy\?done=commented#draft-\w+$"))
    buddy.locator("#to-me .buddy-draft").first.get_by_role("button", name="Love it").click()
    buddy.wait_for_url(re.compile(r"/buddy\?done=reacted#draft-\w+$"))
    expect(
        buddy.locator("#to-me .buddy-draft").first.get_by_role("button", name="Love it")
    ).to_have_attribute("aria-pressed", "true")
    _check(buddy, "buddy-feedback-phone")

    # The author sees the feedback, and decides to post it.
    author.goto(f"{web_url}/buddy")
    mine = author.locator("#my-drafts .buddy-draft").first
    expect(mine.locator(".comments")).to_contain_text("Say what it changes for people.")
    expect(mine.locator(".reaction")).to_contain_text("Love it")
    _check(author, "buddy-desktop")
    mine.get_by_role("link", name="Post it").click()
    author.wait_for_url(re.compile(r"/share/own\?draft=\w+$"))
    expect(author.locator("#text")).to_have_value(TEXT)
    expect(author.locator("#url")).to_have_value("https://www.example.com/booking")
    _check(author, "buddy-post-it-desktop")
    author.locator("#text").fill(TEXT.replace("Is it bragging to say I", "I"))
    author.get_by_role("button", name="Share", exact=True).click()
    author.wait_for_url(re.compile(r"/shared/\w+$"))
    author.goto(f"{web_url}/buddy")
    expect(author.locator("#my-drafts .buddy-draft").first).to_contain_text("Posted")
    expect(author.get_by_role("link", name="Post it")).to_have_count(0)

    # The buddy is told on the feed (their setting is on), and cheers in place.
    buddy.goto(f"{web_url}/feed")
    expect(buddy.locator(".buddy-notice")).to_contain_text("Employee 50 shared a post.")
    _check(buddy, "buddy-feed-notice-phone")
    buddy.locator(".buddy-notice").get_by_role("link", name="Go to your buddy").click()
    buddy.wait_for_url(re.compile(r"/buddy#buddy-shares$"))
    expect(buddy.locator(".buddy-notice")).to_contain_text("Employee 50 shared a post.")
    before = buddy.url
    buddy.locator("#buddy-shares").get_by_role("button", name="Cheer").click()
    expect(buddy.locator("#buddy-shares")).to_contain_text("You cheered this")
    expect(buddy.locator("#buddy-status")).to_have_text("Your cheer is on its way.")
    assert buddy.url == before
    buddy.get_by_role("button", name="Seen").click()
    buddy.wait_for_url(re.compile(r"/buddy\?done=seen#buddy-shares$"))
    expect(buddy.locator(".buddy-notice")).to_have_count(0)
    buddy.goto(f"{web_url}/buddy")
    _check(buddy, "buddy-cheered-phone")
    buddy.goto(f"{web_url}/feed")
    expect(buddy.locator(".buddy-notice")).to_have_count(0)

    # The same pages in every other language, for both of them and the program team.
    for language in ("sv", "da", "nb", "fi"):
        for page, name in (
            (buddy, "buddy-phone"),
            (author, "buddy-desktop"),
            (team, "buddies-program-desktop"),
        ):
            page.select_option("#language-choice", language)
            expect(page.locator("html")).to_have_attribute("lang", language)
            _check(page, f"{name}-{language}")
    # Back to English: a person's language is kept, and other tests sign the same people in.
    for page in (buddy, author, team):
        page.select_option("#language-choice", "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
