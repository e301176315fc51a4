"""Rewards by dialogue in a browser: an employee suggests a reward, colleagues vote (with
JavaScript, in place; without it, by whole pages), and the program team sees the ranking,
stocks the catalog with it and marks it stocked; the employee then sees it in the catalog.

People here are e56..e60 only; every page is checked for WCAG 2.2 AA violations at phone
and desktop size.
"""

from __future__ import annotations

import re
import time
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect
from web_support import axe_violations, csrf_of, new_context, screenshot, sign_in, sign_in_client

from support import ref, token


def _signed_in(context: BrowserContext, web_url: str, tenant: str, person: str) -> Page:
    page = context.new_page()
    sign_in(page, web_url, tenant, person)
    return page


def _check(page: Page, name: str) -> None:
    """One h1, no axe violations, and a screenshot to look at."""
    page.wait_for_load_state()
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == [], name
    screenshot(page, name)


def _item(page: Page, title: str) -> Any:
    return page.locator("#suggestions li.suggestion", has_text=title)


def _ranked(page: Page, title: str) -> Locator:
    """The program team's entry of a suggestion, by its title (other entries name the
    catalog's rewards in their choices, which may include this one)."""
    return page.locator("#suggestions .suggestion-ranking > li").filter(
        has=page.get_by_role("heading", name=title, exact=True)
    )


def test_suggest_vote_and_the_program_team_stocks_it(
    platform: Any,
    web_url: str,
    browser: Browser,
    desktop: BrowserContext,
    phone: BrowserContext,
) -> None:
    tenant = platform.web_tenant
    title = f"Bike repair day {ref('')}"

    # e56 suggests, on a phone: first without a name (the message by its field).
    mine = _signed_in(phone, web_url, tenant, "e56")
    mine.goto(f"{web_url}/rewards#suggest")
    mine.get_by_role("button", name="Suggest", exact=True).click()
    expect(mine.locator("#suggestion_title-error")).to_have_text("Say what reward you would like.")
    expect(mine.locator("#error-summary")).to_be_visible()
    expect(mine.locator("#suggestion_title")).to_have_attribute("aria-invalid", "true")
    _check(mine, "rewards-suggest-refused-phone")
    mine.locator("#suggestion_title").fill(title)
    mine.locator("#suggestion_description").fill("A mechanic in the garage one spring morning.")
    mine.get_by_role("button", name="Suggest", exact=True).click()
    mine.wait_for_url(re.compile(r"/rewards\?suggested=\w+#suggestion-\w+$"))
    expect(mine.locator("#suggestions .alert.success")).to_contain_text("Thank you")
    own = _item(mine, title)
    expect(own.locator(".suggestion-votes")).to_contain_text("1")
    expect(own).to_contain_text("Your suggestion")
    expect(own.get_by_role("button", name="Take back my vote")).to_be_visible()
    _check(mine, "rewards-suggestions-phone")

    # e57 votes with JavaScript: the suggestion changes in place, the page stays.
    theirs = _signed_in(desktop, web_url, tenant, "e57")
    theirs.goto(f"{web_url}/rewards")
    before = theirs.url
    row = _item(theirs, title)
    row.get_by_role("button", name="Vote").click()
    expect(row.get_by_role("button", name="Take back my vote")).to_be_visible()
    expect(row.locator(".suggestion-votes .count")).to_have_text("2")
    expect(theirs.locator("#suggestions-status")).to_have_text("Your vote is counted.")
    assert theirs.url == before
    row.get_by_role("button", name="Take back my vote").click()
    expect(row.locator(".suggestion-votes .count")).to_have_text("1")
    row.get_by_role("button", name="Vote").click()
    expect(row.locator(".suggestion-votes .count")).to_have_text("2")
    _check(theirs, "rewards-suggestions-voted-desktop")

    # e58 votes without JavaScript: a form and a whole page.
    plain = new_context(browser, "phone", java_script_enabled=False)
    try:
        page = _signed_in(plain, web_url, tenant, "e58")
        page.goto(f"{web_url}/rewards")
        _item(page, title).get_by_role("button", name="Vote").click()
        page.wait_for_url(re.compile(r"/rewards#suggestion-\w+$"))
        expect(_item(page, title).locator(".suggestion-votes .count")).to_have_text("3")
        expect(_item(page, title)).to_contain_text("You voted")
    finally:
        plain.close()

    # In the person's language: Finnish for e59, messages by the field too.
    own_phone = new_context(browser, "phone")
    try:
        finnish = _signed_in(own_phone, web_url, tenant, "e59")
        finnish.goto(f"{web_url}/rewards")
        finnish.select_option("#language-choice", "fi")
        expect(finnish.locator("html")).to_have_attribute("lang", "fi")
        expect(finnish.locator("#suggest-title")).to_have_text("Ehdota palkintoa")
        finnish.locator("#suggestion_description").fill("Jotain kivaa")
        finnish.get_by_role("button", name="Ehdota", exact=True).click()
        expect(finnish.locator("#suggestion_title-error")).to_have_text(
            "Kerro, minkä palkinnon haluaisit."
        )
        # What was typed stays.
        expect(finnish.locator("#suggestion_description")).to_have_value("Jotain kivaa")
        _check(finnish, "rewards-suggest-refused-phone-fi")
    finally:
        own_phone.close()

    # The program team sees the ranking, stocks the catalog with it and marks it stocked.
    team = new_context(browser, "desktop")
    admin = _signed_in(team, web_url, tenant, "admin")
    admin.goto(f"{web_url}/program/run/rewards#suggestions")
    ranked = _ranked(admin, title)
    expect(ranked.locator(".suggestion-votes .count")).to_have_text("3")
    expect(ranked).to_contain_text("e56")
    _check(admin, "program-run-rewards-suggestions-desktop")
    ranked.get_by_role("link", name="Add to the catalog").click()
    expect(admin.locator("#item_new_name")).to_have_value(title)
    admin.locator("#item_new_price").fill("150")
    admin.locator("#item_new_stock").fill("12")
    admin.get_by_role("button", name="Add reward").click()
    admin.wait_for_url(f"{web_url}/program/run/rewards?saved=item#catalog")
    small_screen = new_context(browser, "phone")
    small = _signed_in(small_screen, web_url, tenant, "admin")
    small.goto(f"{web_url}/program/run/rewards#suggestions")
    expect(_ranked(small, title)).to_be_attached()
    _check(small, "program-run-rewards-suggestions-phone")
    small_screen.close()
    ranked = _ranked(admin, title)
    ranked.locator("select").select_option(label=title)
    ranked.get_by_role("button", name="Mark as stocked").click()
    admin.wait_for_url(f"{web_url}/program/run/rewards?saved=stocked#suggestions")
    expect(admin.get_by_role("status").first).to_contain_text("Marked as stocked")
    expect(_ranked(admin, title)).to_have_count(0)
    decided = admin.locator("#suggestions details")
    decided.evaluate("details => { details.open = true; }")
    expect(decided.locator("tr", has_text=title)).to_contain_text("Stocked")
    _check(admin, "program-run-rewards-suggestion-stocked-desktop")

    listed = httpx.get(
        f"{platform.url('rewards')}/api/v1/reward-suggestions",
        params={"status": "stocked"},
        headers=token(tenant, "admin", roles=("employee", "admin")),
        timeout=10,
    ).json()["suggestions"]
    stocked = next(s for s in listed if s["title"] == title)
    assert (stocked["votes"], stocked["suggested_by"], stocked["decided_by"]) == (3, "e56", "admin")
    items = httpx.get(
        f"{platform.url('rewards')}/api/v1/catalog", headers=token(tenant, "e56"), timeout=10
    ).json()["items"]
    assert stocked["item_id"] == next(i["item_id"] for i in items if i["name"] == title)

    # e56 sees the answer: in the catalog, and no more votes to cast on it.
    mine.goto(f"{web_url}/rewards")
    expect(mine.locator("#suggestions .decided li", has_text=title)).to_contain_text(
        "In the catalog"
    )
    expect(_item(mine, title)).to_have_count(0)
    expect(mine.locator("ul.rewards li", has_text=title)).to_be_visible()
    _check(mine, "rewards-suggestion-stocked-phone")

    team.close()


def test_someone_never_in_the_program_suggests_downloads_it_and_erases_it(
    platform: Any, web_url: str
) -> None:
    """Without JavaScript (plain forms), by someone who never joined: the suggestion is in
    their download, and erasing their data leaves it, and its votes, under a pseudonym."""
    tenant = platform.web_tenant
    title = f"Sauna evening {ref('')}"
    admin = token(tenant, "admin", roles=("employee", "admin"))
    rewards = f"{platform.url('rewards')}/api/v1"
    client = sign_in_client(web_url, tenant, "e60")
    try:
        page = client.get("/rewards")
        made = client.post(
            "/rewards/suggestions", data={"title": title, "csrf": csrf_of(page.text)}
        )
        assert made.status_code == 303, made.text
        assert re.search(r"/rewards\?suggested=\w+#suggestion-\w+$", made.headers["location"])
        assert title in client.get(made.headers["location"]).text
        download = client.get("/me/export").json()
        assert [s["title"] for s in download["rewards"]["reward_suggestions"]] == [title]
        assert [v["title"] for v in download["rewards"]["reward_votes"]] == [title]

        erase_page = client.get("/me/erase")
        erased = client.post("/me/erase", data={"csrf": csrf_of(erase_page.text)})
        assert erased.status_code == 200, erased.text
    finally:
        client.close()

    # Share announces the erasure; rewards' worker carries it out within seconds.
    deadline = time.monotonic() + 60
    while True:
        listed = httpx.get(f"{rewards}/reward-suggestions", headers=admin, timeout=10).json()
        kept = next(s for s in listed["suggestions"] if s["title"] == title)
        mine = httpx.get(f"{rewards}/me/export", headers=token(tenant, "e60"), timeout=10).json()
        records = (mine["records"]["reward_suggestions"], mine["records"]["reward_votes"])
        done = kept["suggested_by"].startswith("erased-") and records == ([], [])
        if done or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert kept["suggested_by"].startswith("erased-")
    assert kept["votes"] == 1
    assert records == ([], [])
