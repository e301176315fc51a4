"""The employee's whole story in a real browser: find a job post, share it, see it work."""

from __future__ import annotations

import re
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from playwright.sync_api import Browser, BrowserContext, Page, expect
from web_support import CompanySite, join, new_context, publish, sign_in, wait_shareable

from support import token

BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
# Pages outside the platform answer from the test: no network here, and no real LinkedIn.
OUTSIDE = re.compile(r"^https://(www\.linkedin\.com|x\.com|careers\.example\.com)/")


def answer_outside(context: BrowserContext) -> list[str]:
    opened: list[str] = []

    def fulfil(route: Any) -> None:
        opened.append(route.request.url)
        route.fulfill(status=200, content_type="text/html", body="<title>outside</title>ok")

    context.route(OUTSIDE, fulfil)
    return opened


def capture_share_sheet(context: BrowserContext) -> list[dict[str, Any]]:
    """navigator.share as a phone has it, recording what the page hands to it."""
    shared: list[dict[str, Any]] = []
    context.expose_function("__shareSheet", lambda data: shared.append(data))
    context.add_init_script(
        """
        Object.defineProperty(navigator, 'share', {
          configurable: true,
          value: (data) => window.__shareSheet(data),
        });
        """
    )
    context.grant_permissions(["clipboard-read", "clipboard-write"])
    return shared


def publish_job(
    platform: Any, tenant: str, title: str, site: str = "https://careers.example.com"
) -> dict[str, Any]:
    return publish(
        platform,
        tenant,
        title=title,
        kind="job",
        url=f"{site}/jobs/platform-engineer",
        summary="Build the platform our product teams ship on.",
        suggested_texts={"linkedin": "My team is hiring. Come build with us!"},
        job={"location": "Oslo", "department": "Engineering"},
        topics=["careers"],
    )


def find_in_feed(page: Page, web_url: str, title: str) -> None:
    """The feed, reloaded until the item is there (the share service learns of it by event)."""
    deadline = time.monotonic() + 30
    while True:
        page.goto(f"{web_url}/feed?kind=job")
        if page.get_by_role("heading", name=title).count():
            return
        assert time.monotonic() < deadline, "the job post never reached the feed"
        page.wait_for_timeout(500)


def share_when_ready(page: Page, web_url: str, content_id: str) -> None:
    """Open the share panel; the share service may still be learning of the item."""
    page.goto(f"{web_url}/share/{content_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Share")


def test_an_employee_finds_a_job_post_shares_it_and_sees_the_click_and_points(
    platform: Any, web_url: str, browser: Browser, company_site: CompanySite
) -> None:
    tenant = platform.web_tenant
    title = "We are hiring: Platform Engineer, Oslo"
    # 1. A curator publishes a job post through the API.
    item = publish_job(platform, tenant, title, site=company_site.url)
    wait_shareable(platform, tenant, item["id"])

    context = new_context(browser, "desktop")
    opened = answer_outside(context)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_url)
    page = context.new_page()
    # 2. The employee signs in, joins, and finds the post in the feed.
    sign_in(page, web_url, tenant, "e01")
    page.goto(f"{web_url}/feed")
    page.get_by_role("link", name="Join the program").first.click()
    # Guidelines, when the program team has published some, are read and accepted first.
    accept = page.get_by_label("I have read the guidelines")
    if accept.count():
        accept.check()
    page.get_by_label("LinkedIn", exact=True).check()
    page.get_by_label("Followers or connections on LinkedIn").fill("850")
    page.get_by_role("button", name="Join the program").click()
    page.wait_for_load_state()
    find_in_feed(page, web_url, title)

    # 3. The employee shares it: the text goes to the clipboard, LinkedIn's page opens.
    card = page.locator("article", has=page.get_by_role("heading", name=title))
    card.get_by_role("link", name="Share", exact=True).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Share")
    expect(page.get_by_label("Your text")).to_have_value(re.compile("My team is hiring"))
    page.get_by_label("LinkedIn").check()
    with context.expect_page() as popup_info:
        page.get_by_role("button", name=re.compile("Copy text and open LinkedIn")).click()
    popup = popup_info.value
    popup.wait_for_url(re.compile(r"^https://www\.linkedin\.com/"))
    share_page = urlsplit(popup.url)
    assert share_page.netloc == "www.linkedin.com"
    assert share_page.path == "/sharing/share-offsite/"
    tracked = parse_qs(share_page.query)["url"][0]
    assert "/l/" in tracked
    page.wait_for_url(re.compile(r"/shared/"))
    expect(page.get_by_label("Your link")).to_have_value(tracked)
    assert "My team is hiring" in page.evaluate("navigator.clipboard.readText()")

    # The employee watches their impact page.
    page.goto(f"{web_url}/impact")
    before = page.locator("[data-clicks-total]").inner_text()

    # 4. A visitor in another browser context opens the tracked link.
    visitor = browser.new_context(user_agent=BROWSER_UA)
    answer_outside(visitor)
    visit = visitor.new_page()
    visit.goto(tracked)
    assert visit.url.startswith(f"{company_site.url}/jobs/platform-engineer?utm_source=linkedin")
    expect(visit.get_by_role("heading", name="Platform engineer")).to_be_visible()
    visitor.close()

    # 5. Without a reload, the click and its point appear within 5 seconds.
    expect(page.locator("[data-clicks-total]")).not_to_have_text(before, timeout=5_000)
    expect(page.locator("[data-clicks-total]")).to_have_text("1", timeout=5_000)
    expect(page.get_by_text("a unique click on a shared link").first).to_be_visible(timeout=5_000)
    assert any("linkedin.com/sharing/share-offsite" in url for url in opened)
    context.close()


def test_on_a_phone_the_share_sheet_gets_the_tracked_link_and_the_text_is_copied_first(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    item = publish_job(platform, tenant, "Phone share: Backend engineer")
    wait_shareable(platform, tenant, item["id"])
    join(platform, tenant, "e02")
    context = new_context(browser, "phone")
    shared = capture_share_sheet(context)
    page = context.new_page()
    sign_in(page, web_url, tenant, "e02")
    find_in_feed(page, web_url, "Phone share: Backend engineer")
    share_when_ready(page, web_url, item["id"])
    page.get_by_label("LinkedIn").check()
    page.get_by_role("button", name="Share…").click()
    page.wait_for_url(re.compile(r"/shared/"))
    assert len(shared) == 1
    assert "/l/" in shared[0]["url"]
    assert "My team is hiring" in shared[0]["text"]
    assert "My team is hiring" in page.evaluate("navigator.clipboard.readText()")
    context.close()


def test_the_share_flow_works_with_the_keyboard_alone(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    title = "Keyboard share: Support engineer"
    item = publish_job(platform, tenant, title)
    wait_shareable(platform, tenant, item["id"])
    join(platform, tenant, "e03")
    context = new_context(browser, "desktop")
    answer_outside(context)
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=web_url)
    page = context.new_page()
    sign_in(page, web_url, tenant, "e03")
    find_in_feed(page, web_url, title)
    # Tab to the card's Share link, as a keyboard user does.
    share_link = page.locator("article", has=page.get_by_role("heading", name=title)).get_by_role(
        "link", name="Share", exact=True
    )
    for _ in range(60):
        page.keyboard.press("Tab")
        if share_link.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the Share link is not reachable with Tab")
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"/share/"))
    # The network chips are radio buttons: Tab into the group, arrows move the choice.
    network = page.locator("input[name=network]:checked")
    for _ in range(30):
        page.keyboard.press("Tab")
        if network.evaluate("el => el === document.activeElement"):
            break
    else:
        raise AssertionError("the network choice is not reachable with Tab")
    page.keyboard.press("Tab")  # the text
    page.keyboard.press("Control+End")
    page.keyboard.type(" Proud of this team.")
    with context.expect_page() as popup_info:
        for _ in range(10):
            page.keyboard.press("Tab")
            if page.evaluate("document.activeElement.matches('[data-share-button]')"):
                break
        page.keyboard.press("Enter")
    popup_info.value.wait_for_url(re.compile(r"^https://www\.linkedin\.com/"))
    page.wait_for_url(re.compile(r"/shared/"))
    shares = httpx.get(
        f"{platform.url('share')}/api/v1/shares",
        params={"employee_id": "e03"},
        headers=token(tenant, "e03"),
    ).json()["items"]
    assert len(shares) == 1 and shares[0]["text"].endswith("Proud of this team.")
    context.close()
