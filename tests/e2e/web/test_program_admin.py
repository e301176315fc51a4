"""Running the program in a browser (admins): point rules with their simulation, rewards
and redemptions to fulfil, challenges, goals and settings; a 403 page for everyone else.

Employees here are e47..e52 only; every page is checked for WCAG 2.2 AA violations at
phone and desktop size.
"""

from __future__ import annotations

import asyncio
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect
from web_support import axe_violations, join, new_context, screenshot, sign_in

from support import eventually, ref, token

PAGES = {
    "rules": "/program/run",
    "challenges": "/program/run/challenges",
    "rewards": "/program/run/rewards",
    "settings": "/program/run/settings",
}


def _admin(tenant: str) -> dict[str, str]:
    return token(tenant, "admin", roles=("employee", "admin"))


def _signed_in(context: BrowserContext, web_url: str, tenant: str, person: str) -> Page:
    page = context.new_page()
    sign_in(page, web_url, tenant, person)
    return page


def _check(page: Page, url: str | None, name: str) -> None:
    """Open `url` (or stay), then: one h1, no axe violations, and a screenshot."""
    if url is not None:
        page.goto(url)
    page.wait_for_load_state()
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == [], name
    screenshot(page, name)


def _shown(page: Page, selector: str, text: str = "") -> None:
    """Reload until the panel shows (a busy service's panel says it is unavailable)."""
    for _ in range(10):
        found = page.locator(selector, has_text=text) if text else page.locator(selector)
        if found.count():
            return
        time.sleep(1)
        page.reload()
    expect(page.locator(selector)).to_contain_text(text)


def _own_share(platform: Any, tenant: str, person: str) -> None:
    answer = httpx.post(
        f"{platform.url('share')}/api/v1/shares",
        json={"url": "https://www.example.com/own", "network": "linkedin", "text": "Worth it"},
        headers=token(tenant, person),
        timeout=10,
    )
    assert answer.status_code == 201, answer.text


def _wait(probe_url: str, headers: dict[str, str], check: Any, timeout: float = 30) -> Any:
    """Poll a service's GET until `check` holds (in a thread: Playwright owns this loop)."""

    async def run() -> Any:
        async with httpx.AsyncClient(timeout=10) as http:

            async def probe() -> Any:
                return (await http.get(probe_url, headers=headers)).json()

            return await eventually(probe, check, timeout=timeout)

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


def _points(platform: Any, tenant: str, person: str, check: Any) -> dict[str, Any]:
    url = f"{platform.url('rewards')}/api/v1/me/points"
    return dict(_wait(url, token(tenant, person), check))


def test_an_employee_gets_the_403_page(platform: Any, web_url: str, phone: BrowserContext) -> None:
    page = _signed_in(phone, web_url, platform.web_tenant, "e47")
    for path in PAGES.values():
        answer = page.goto(f"{web_url}{path}")
        assert answer is not None and answer.status == 403, path
    expect(page.locator("h1")).to_have_text("This page is for the program team")
    _check(page, None, "program-run-403-phone")


def test_an_admin_edits_a_point_rule_simulates_saves_and_the_next_share_earns_it(
    platform: Any, web_url: str, desktop: BrowserContext
) -> None:
    tenant = platform.web_tenant
    rewards = f"{platform.url('rewards')}/api/v1"
    before = httpx.get(f"{rewards}/rules", headers=_admin(tenant), timeout=10).json()
    join(platform, tenant, "e48")
    _own_share(platform, tenant, "e48")
    _points(platform, tenant, "e48", lambda p: p["earned"] >= 10)
    page = _signed_in(desktop, web_url, tenant, "admin")
    _check(page, f"{web_url}/program/run", "program-run-rules-desktop")
    expect(page.locator("#points_share")).to_have_value("10")
    try:
        page.locator("#points_share").fill("25")
        for _ in range(5):  # a busy rewards service's simulation says it is unavailable
            page.get_by_role("button", name="Simulate").click()
            page.wait_for_load_state()
            if page.locator(".simulation table").count():
                break
        simulation = page.locator(".simulation table")
        expect(simulation.locator("caption")).to_contain_text("biggest change first")
        row = simulation.locator("tr", has_text="e48")
        expect(row).to_contain_text("+")
        # Not saved yet: the form keeps the proposal, the service the rules in force.
        expect(page.locator("#points_share")).to_have_value("25")
        _check(page, None, "program-run-simulation-desktop")

        page.get_by_role("button", name="Save as new rules").click()
        page.wait_for_url(f"{web_url}/program/run?saved=rules")
        expect(page.get_by_role("status").first).to_contain_text("apply from now on")
        expect(page.locator("#points_share")).to_have_value("25")
        saved = httpx.get(f"{rewards}/rules", headers=_admin(tenant), timeout=10).json()
        assert saved["versions"][-1]["points"]["share"] == 25

        # The worker reads the rules again within 2 s; then the next share earns 25.
        time.sleep(2.5)
        _own_share(platform, tenant, "e48")
        mine = _points(
            platform, tenant, "e48", lambda p: any(e["points"] == 25 for e in p["recent"])
        )
        latest = next(e for e in mine["recent"] if e["points"] == 25)
        assert latest["rule_id"] == "share"
        assert latest["rule_version"] == saved["versions"][-1]["version"]
    finally:
        # Other tests of this tenant count on 10 points a share.
        last = before["versions"][-1]
        restored = httpx.post(
            f"{rewards}/rules",
            json={k: last[k] for k in ("points", "daily_caps", "daily_max", "multipliers")},
            headers=_admin(tenant),
            timeout=10,
        )
        assert restored.status_code == 201, restored.text
        time.sleep(2.5)


def test_an_employee_redeems_and_the_admin_marks_it_fulfilled(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    rewards = f"{platform.url('rewards')}/api/v1"
    join(platform, tenant, "e49")
    _own_share(platform, tenant, "e49")
    earned = _points(platform, tenant, "e49", lambda p: p["balance"] >= 10)["balance"]

    page = _signed_in(desktop, web_url, tenant, "admin")
    page.goto(f"{web_url}/program/run/rewards")
    name = f"Team lunch {ref('')}"
    page.locator("#item_new_name").fill(name)
    page.locator("#item_new_price").fill("10")
    page.locator("#item_new_stock").fill("3")
    page.get_by_role("button", name="Add reward").click()
    page.wait_for_url(f"{web_url}/program/run/rewards?saved=item#catalog")
    items = httpx.get(f"{rewards}/catalog", headers=token(tenant, "e49"), timeout=10).json()
    item = next(i for i in items["items"] if i["name"] == name)
    assert (item["price"], item["stock"]) == (10, 3)

    redeemed = httpx.post(
        f"{rewards}/redemptions",
        json={"item_id": item["item_id"]},
        headers=token(tenant, "e49"),
        timeout=10,
    )
    assert redeemed.status_code == 201, redeemed.text
    redemption_id = redeemed.json()["redemption_id"]

    page.goto(f"{web_url}/program/run/rewards")
    _shown(page, "#redemptions tr", name)
    row = page.locator("#redemptions tr", has_text=name)
    expect(row).to_contain_text("e49")
    _check(page, None, "program-run-rewards-desktop")
    row.get_by_role("button", name="Mark as fulfilled").click()
    page.wait_for_url(f"{web_url}/program/run/rewards?saved=fulfilled#redemptions")
    expect(page.get_by_role("status").first).to_contain_text("Marked as fulfilled")
    assert page.locator("#redemptions table tbody tr", has_text=name).count() in (0, 1)
    expect(
        page.locator("#redemptions > .panel.table-panel, #redemptions > .empty")
    ).not_to_contain_text(name)
    _check(page, None, "program-run-rewards-fulfilled-desktop")
    _check(
        _signed_in(phone, web_url, tenant, "admin"),
        f"{web_url}/program/run/rewards",
        "program-run-rewards-phone",
    )

    listed = httpx.get(f"{rewards}/admin/redemptions", headers=_admin(tenant), timeout=10).json()
    mine = next(r for r in listed["redemptions"] if r["redemption_id"] == redemption_id)
    assert (mine["status"], mine["employee_id"], mine["fulfilled_by"]) == (
        "fulfilled",
        "e49",
        "admin",
    )
    items = httpx.get(f"{rewards}/catalog", headers=token(tenant, "e49"), timeout=10).json()
    assert next(i for i in items["items"] if i["item_id"] == item["item_id"])["stock"] == 2
    points = httpx.get(f"{rewards}/me/points", headers=token(tenant, "e49"), timeout=10).json()
    assert (points["balance"], points["spent"]) == (earned - 10, 10)


def test_challenges_goals_and_settings_through_their_forms(
    platform: Any, web_url: str, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    page = _signed_in(desktop, web_url, tenant, "admin")

    # A challenge: first refused without a name (the message by its field), then added.
    page.goto(f"{web_url}/program/run/challenges")
    page.locator("#challenge_target").fill("3")
    page.get_by_role("button", name="Add challenge").click()
    expect(page.locator("#challenge_name-error")).to_have_text("Give the challenge a name.")
    expect(page.locator("#error-summary")).to_be_visible()
    _check(page, None, "program-run-challenges-refused-desktop")
    challenge = f"Three jobs {ref('')}"
    page.locator("#challenge_name").fill(challenge)
    page.locator("#challenge_action").select_option("share")
    page.locator("#challenge_kind").select_option("job")
    page.get_by_role("button", name="Add challenge").click()
    page.wait_for_url(f"{web_url}/program/run/challenges?saved=challenge")
    _shown(page, "#challenges table", challenge)

    page.locator("#opt-in-yes").check()
    page.locator("#executive_groups").fill("leadership, board")
    page.get_by_role("button", name="Save leaderboard settings").click()
    page.wait_for_url(f"{web_url}/program/run/challenges?saved=leaderboards#leaderboards")
    boards = httpx.get(
        f"{platform.url('rewards')}/api/v1/settings/leaderboards",
        headers=_admin(tenant),
        timeout=10,
    ).json()
    assert boards == {"opt_in": True, "executive_groups": ["leadership", "board"]}
    # Back as it was for the other tests of this tenant.
    _shown(page, "#opt-in-no")
    page.locator("#opt-in-no").check()
    page.locator("#executive_groups").fill("")
    page.get_by_role("button", name="Save leaderboard settings").click()
    page.wait_for_url(f"{web_url}/program/run/challenges?saved=leaderboards#leaderboards")
    _check(page, None, "program-run-challenges-desktop")

    # A goal, then the share cap and the hashtag as they are (saved unchanged).
    page.goto(f"{web_url}/program/run/settings")
    _shown(page, "#daily_share_cap")
    goal = f"Shares this year {ref('')}"
    page.locator("#goal_name").fill(goal)
    page.locator("#goal_target").fill("500")
    page.get_by_role("button", name="Save goal").click()
    page.wait_for_url(f"{web_url}/program/run/settings?saved=goal#goals")
    _shown(page, "#goals table", goal)
    _shown(page, "#daily_share_cap")
    cap = page.locator("#daily_share_cap").input_value()
    page.get_by_role("button", name="Save share cap").click()
    page.wait_for_url(f"{web_url}/program/run/settings?saved=cap#sharing")
    expect(page.locator("#daily_share_cap")).to_have_value(cap)
    # How long engagement is kept: one form, metrics' setting and share's alike; then back.
    settings_of = {
        "metrics": f"{platform.url('metrics')}/api/v1/settings",
        "share": f"{platform.url('share')}/api/v1/settings/retention",
    }
    _shown(page, "#detail_retention_days")
    kept = page.locator("#detail_retention_days").input_value()
    for days in ("420", kept):
        page.locator("#detail_retention_days").fill(days)
        page.get_by_role("button", name="Save retention").click()
        page.wait_for_url(f"{web_url}/program/run/settings?saved=retention#retention")
        expect(page.locator("#detail_retention_days")).to_have_value(days)
        for service, url in settings_of.items():
            found = httpx.get(url, headers=_admin(tenant), timeout=10).json()
            assert found["detail_retention_days"] == int(days), service
    _shown(page, "#disclosure_hashtag")
    page.locator("#disclosure_hashtag").fill("not a tag")
    page.get_by_role("button", name="Save hashtag").click()
    expect(page.locator("#disclosure_hashtag-error")).to_contain_text("like #employee")
    _check(page, None, "program-run-settings-refused-desktop")
    page.goto(f"{web_url}/program/run/settings")
    _shown(page, "#goals table", goal)
    _check(page, None, "program-run-settings-desktop")
    page.locator("#goals tr", has_text=goal).get_by_role("button", name="Remove").click()
    page.wait_for_url(f"{web_url}/program/run/settings?saved=removed#goals")
    expect(page.locator("#goals")).not_to_contain_text(goal)

    small = _signed_in(phone, web_url, tenant, "admin")
    for key in ("rules", "challenges", "settings"):
        _check(small, f"{web_url}{PAGES[key]}", f"program-run-{key}-phone")


def test_the_erasure_requests_page_in_danish_on_a_phone(
    platform: Any, web_url: str, browser: Browser
) -> None:
    context = new_context(browser, "phone", locale="da-DK")
    try:
        page = _signed_in(context, web_url, platform.web_tenant, "admin")
        page.goto(f"{web_url}/program/run/erasures")
        # A person's language, once chosen, wins over the browser's: other tests chose one
        # for the same admin, so this one chooses Danish as a person would.
        page.select_option("#language-choice", "da")
        expect(page.locator("html")).to_have_attribute("lang", "da")
        _check(page, None, "erasures-da-phone")
        expect(page.get_by_role("heading", level=1)).to_have_text("Anmodninger om sletning")
        # Back to English: a person's language is kept, and other tests sign the admin in.
        page.select_option("#language-choice", "en")
        expect(page.locator("html")).to_have_attribute("lang", "en")
    finally:
        context.close()
