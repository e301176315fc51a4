"""Every page, in every language, on a phone and a desktop: axe-core finds no WCAG 2.2 AA
violation, and a screenshot of each is written as a test artifact."""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from web_support import axe_violations, join, new_context, publish, screenshot, sign_in

from support import token

# Each test visits every page in five languages with axe: about 240 s beside the main
# tier's browser tests, plus a minute of platform start for the first. The limit guards
# against a hang, not against slowness: the suite's 300 s cut the first one short.
pytestmark = [pytest.mark.long, pytest.mark.timeout(900)]

LANGUAGES = ("en", "sv", "da", "nb", "fi")
PERSON = "e40"


@pytest.fixture(scope="module")
def seeded(platform: Any) -> dict[str, str]:
    """One employee with a share, a catalog with an item, a reward suggestion, guidelines:
    every page has data."""
    tenant = platform.web_tenant
    admin = token(tenant, "admin", roles=("employee", "admin"))
    httpx.put(
        f"{platform.url('rewards')}/api/v1/catalog/mug",
        json={"name": "Chorus mug", "price": 5, "stock": 20},
        headers=admin,
    ).raise_for_status()
    # A colleague's reward suggestion, so the rewards page shows one with its vote button.
    suggested = httpx.post(
        f"{platform.url('rewards')}/api/v1/reward-suggestions",
        json={"title": "A day of volunteering", "description": "For a cause the team picks."},
        headers=token(tenant, "e39"),
    )
    assert suggested.status_code in (201, 409), suggested.text
    item = publish(
        platform,
        tenant,
        title="Meet us at the Nordic Developer Days",
        kind="event",
        summary="Two days of talks, workshops and coffee in Oslo.",
        event={"starts_at": "2027-03-10T09:00:00+00:00", "venue": "Oslo Spektrum"},
        topics=["events"],
    )
    join(platform, tenant, PERSON)
    share = None
    for _ in range(60):
        response = httpx.post(
            f"{platform.url('share')}/api/v1/shares",
            json={"content_id": item["id"], "network": "linkedin"},
            headers=token(tenant, PERSON),
        )
        if response.status_code == 201:
            share = response.json()
            break
        time.sleep(0.5)
    assert share is not None, "the share service never learned of the item"
    return {"item": item["id"], "share": share["id"]}


def pages(seeded: dict[str, str]) -> list[tuple[str, str]]:
    return [
        ("feed", "/feed"),
        ("share", f"/share/{seeded['item']}"),
        ("shared", f"/shared/{seeded['share']}"),
        ("join", "/join"),
        ("impact", "/impact"),
        ("leaderboard", "/leaderboard"),
        ("rewards", "/rewards"),
        ("redeem", "/rewards/redeem/mug"),
        ("me", "/me"),
        ("leave", "/me/leave"),
        ("erase", "/me/erase"),
        ("own-post", "/share/own"),
        ("buddy", "/buddy"),
        ("suggest", "/suggest"),
        ("onboarding", "/onboarding"),
        ("expertise", "/me/expertise"),
        ("not-found", "/no-such-page"),
    ]


def choose_language(page: Page, language: str) -> None:
    """The footer's language menu, as a person uses it: the page stays the same."""
    before = page.url
    page.select_option("#language-choice", language)
    expect(page.locator("html")).to_have_attribute("lang", language)
    assert page.url == before


@pytest.mark.parametrize("size", ["phone", "desktop"])
def test_every_page_in_every_language_passes_axe(
    platform: Any, web_url: str, browser: Browser, seeded: dict[str, str], size: str
) -> None:
    context = new_context(browser, size)
    page = context.new_page()
    page.goto(f"{web_url}/signin")
    found: dict[str, Any] = {}
    for language in LANGUAGES:
        choose_language(page, language)
        found[f"{language}/signin"] = axe_violations(page)
        screenshot(page, f"{language}-{size}-signin")
    sign_in(page, web_url, platform.web_tenant, PERSON)
    for language in LANGUAGES:
        choose_language(page, language)
        for name, path in pages(seeded):
            page.goto(f"{web_url}{path}")
            page.wait_for_load_state("networkidle")
            assert page.locator("html").get_attribute("lang") == language
            assert page.locator("h1").count() == 1, f"{path}: one h1"
            found[f"{language}{path}"] = axe_violations(page)
            screenshot(page, f"{language}-{size}-{name}")
    context.close()
    failing = {where: v for where, v in found.items() if v}
    assert not failing, failing


def test_switching_language_keeps_me_on_the_same_page(
    platform: Any, web_url: str, browser: Browser, seeded: dict[str, str]
) -> None:
    context = new_context(browser, "desktop", locale="fi-FI")
    page = context.new_page()
    page.goto(f"{web_url}/signin")
    # The browser's language until the person chooses.
    assert page.locator("html").get_attribute("lang") == "fi"
    sign_in(page, web_url, platform.web_tenant, "e39", next_="/leaderboard")
    page.goto(f"{web_url}/leaderboard?period=month")
    page.select_option("#language-choice", "sv")
    page.wait_for_url(re.compile(r"/leaderboard\?period=month$"))
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    # The choice is the person's setting: it holds on the next page and the next sign-in.
    page.goto(f"{web_url}/feed")
    expect(page.get_by_role("heading", level=1)).to_have_text("Flöde")
    context.close()
