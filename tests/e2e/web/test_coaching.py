"""Coaching in a browser: the program team writes an onboarding path in two languages, an
employee follows it from the feed to the end, names their areas of expertise and sees
those items first; the program team sees the completion and the areas without content.

People here are e27 and e28 only (the path is the web tenant's, so it is emptied again at
the end); every page is checked for WCAG 2.2 AA violations.
"""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect
from web_support import axe_violations, csrf_of, join, publish, screenshot, sign_in, sign_in_client

from support import REPO, ref, token

PERSON = "e27"
# The README's pictures of these pages.
SCREENS = REPO / "docs" / "screens"


def _check(page: Page, name: str) -> None:
    page.wait_for_load_state()
    assert page.locator("h1").count() == 1
    assert axe_violations(page) == [], name
    screenshot(page, name)


def _readme_shot(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(Path(SCREENS / f"{name}.png")))


def _empty_the_path(platform: Any, tenant: str) -> None:
    curator = token(tenant, "curator", roles=("employee", "curator"))
    url = f"{platform.url('content')}/api/v1/onboarding"
    version = httpx.get(url, headers=curator).json()["version"]
    if version:
        httpx.put(url, headers=curator, json={"version": version, "steps": []}).raise_for_status()


def test_the_path_is_written_followed_and_measured(
    platform: Any, web_url: str, browser: Browser, desktop: BrowserContext, phone: BrowserContext
) -> None:
    tenant = platform.web_tenant
    suffix = ref("")[-6:]
    # The web tenant is new in every test session, and nobody else names areas in it.
    area = "cloud security"
    office = f"Our new office {suffix}"
    _empty_the_path(platform, tenant)
    try:
        # The curator writes two steps in English, then the first in Swedish.
        team = desktop.new_page()
        sign_in(team, web_url, tenant, "curator", "/program/onboarding?lang=en")
        team.goto(f"{web_url}/program/onboarding?lang=en")
        expect(team.get_by_role("heading", level=1)).to_have_text("Onboarding path")
        team.locator("#body-new").fill("Why we share, in two minutes.")
        team.get_by_role("button", name="Save the path").click()
        expect(team.locator("#title-new-error")).to_have_text(
            "Give the step a title in this language too."
        )
        _check(team, "onboarding-editor-refused")
        team.locator("#title-new").fill("Why we do this")
        team.get_by_role("button", name="Save the path").click()
        team.wait_for_url(re.compile(r"/program/onboarding\?lang=en&saved=1$"))
        team.locator("#title-new").fill("Am I bragging?")
        team.locator("#body-new").fill("Sharing what you know is not bragging.\n\nIt helps.")
        team.get_by_role("button", name="Save the path").click()
        team.wait_for_url(re.compile(r"saved=1$"))
        expect(team.locator("fieldset.step-editor")).to_have_count(3)  # two steps and a new one
        team.get_by_role("link", name=re.compile("^Svenska")).click()
        first = team.locator("fieldset.step-editor").first
        expect(first.locator("legend")).to_contain_text("Why we do this")
        first.get_by_label("Title").fill("Varför vi gör det här")
        team.get_by_role("button", name="Save the path").click()
        team.wait_for_url(re.compile(r"lang=sv&saved=1$"))
        expect(team.locator("fieldset.step-editor").first.get_by_label("Title")).to_have_value(
            "Varför vi gör det här"
        )
        _check(team, "onboarding-editor")

        # An item on the person's future area, and a newer one on another topic: today's
        # newest comes first until the person names the area.
        publish(platform, tenant, title=f"Notes on {area}", topics=[area])
        publish(platform, tenant, title=office, topics=["office"])

        # The employee finds the path from the feed and follows it, on a phone.
        join(platform, tenant, PERSON)
        page = phone.new_page()
        sign_in(page, web_url, tenant, PERSON)
        nudge = page.locator(".onboarding-nudge")
        expect(nudge).to_contain_text("0 of 2 steps done")
        titles = page.locator("article.card h2")
        order = titles.all_inner_texts()
        assert order.index(office) < order.index(f"Notes on {area}")
        nudge.get_by_role("link").click()
        page.wait_for_url(f"{web_url}/onboarding")
        expect(page.locator("#progress-title")).to_have_text("0 of 2 steps done")
        _check(page, "onboarding-phone")
        page.get_by_role("button", name="Mark as done").first.click()
        expect(page.locator("#progress-title")).to_have_text("1 of 2 steps done")
        expect(page.locator(".onboarding-progress [role=status]")).to_contain_text(
            "Next up: Am I bragging?"
        )
        _readme_shot(page, "onboarding-phone")
        page.get_by_role("button", name="Mark as done").click()
        expect(page.locator("#progress-title")).to_have_text("You finished the path")
        expect(page.locator(".chip.done")).to_have_count(2)
        _check(page, "onboarding-finished-phone")
        page.goto(f"{web_url}/feed")
        expect(page.locator(".onboarding-nudge")).to_have_count(0)

        # Areas of expertise, named on one line: the feed puts that item first for its day.
        page.goto(f"{web_url}/me")
        page.get_by_role("link", name="Your areas of expertise").click()
        page.get_by_label("Your areas").fill(f"{area.upper()}, {'x' * 61}")
        page.get_by_role("button", name="Save your areas").click()
        expect(page.locator("#areas-error")).to_have_text(
            "Keep each area to 60 characters or fewer."
        )
        _check(page, "expertise-refused-phone")
        page.get_by_label("Your areas").fill(f"{area.upper()}, ux research")
        page.get_by_role("button", name="Save your areas").click()
        page.wait_for_url(re.compile(r"/me/expertise\?saved=1$"))
        expect(page.get_by_label("Your areas")).to_have_value(f"{area}, ux research")
        _check(page, "expertise-phone")
        page.goto(f"{web_url}/feed")
        order = page.locator("article.card h2").all_inner_texts()
        assert order.index(f"Notes on {area}") < order.index(office)
        mine = page.locator("article.card", has_text=f"Notes on {area}")
        expect(mine.locator(".chip.area")).to_have_text("Your area")
        expect(page.locator("article.card", has_text=office).locator(".chip.area")).to_have_count(0)
        _check(page, "feed-with-areas-phone")

        # The program team: completion, and the area with people but no content.
        team.goto(f"{web_url}/program/onboarding?lang=en")
        expect(team.locator(".figures")).to_contain_text("Finished")
        assert int(team.locator(".figures div").nth(1).locator("dd").inner_text()) >= 1
        team.goto(f"{web_url}/program/expertise")
        gap = team.locator("tr.uncovered", has_text="ux research")
        expect(gap.locator(".chip.gap")).to_have_text("No content")
        covered = team.locator("tr", has_text=area)
        expect(covered.locator(".chip.done")).to_have_text("Covered")
        _check(team, "expertise-table")
        _readme_shot(team, "expertise-desktop")
        gap.get_by_role("link").click()
        expect(team.locator("#topics")).to_have_value("ux research")

        # Erasing my data reaches content: through share's opt-out for a member, and
        # directly for someone who never joined (e28 names an area first).
        outsider = sign_in_client(web_url, tenant, "e28")
        form = outsider.get("/me/expertise")
        named = outsider.post("/me/expertise", data={"csrf": csrf_of(form.text), "areas": "design"})
        assert named.status_code == 303, named.text
        for person in (PERSON, "e28"):
            client = sign_in_client(web_url, tenant, person)
            confirm = client.get("/me/erase")
            erased = client.post("/me/erase", data={"csrf": csrf_of(confirm.text)})
            client.close()
            assert erased.status_code == 200, erased.text
        outsider.close()
        content = platform.url("content")
        deadline = time.monotonic() + 30
        left: dict[str, Any] = {}
        while time.monotonic() < deadline:
            left = {
                person: httpx.get(
                    f"{content}/api/v1/me/expertise", headers=token(tenant, person)
                ).json()["areas"]
                for person in (PERSON, "e28")
            }
            if not any(left.values()):
                break
            time.sleep(0.5)
        assert left == {PERSON: [], "e28": []}
    finally:
        _empty_the_path(platform, tenant)
