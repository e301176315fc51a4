"""My impact and the leaderboard in a browser: real services, real events, axe-core.

People e30..e38 of the web tenant are this module's own."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import BrowserContext, expect
from web_support import axe_violations, screenshot, sign_in

from support import ServiceProcess, eventually, free_port, token, web_people

VISITOR = {
    "User-Agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/124.0 Safari/537.36"
}


def _share_as(platform: Any, person: str, team: str, content_id: str) -> dict[str, Any]:
    """`person` joins the program and shares the item; returns the share once points are in."""
    headers = token(platform.web_tenant, person, groups=(team,))

    async def run() -> dict[str, Any]:
        async with httpx.AsyncClient(timeout=10) as http:
            joined = await http.post(
                f"{platform.url('share')}/api/v1/advocates/me",
                headers=headers,
                json={"accept": True},
            )
            assert joined.status_code in (200, 201), joined.text

            async def share() -> httpx.Response:
                return await http.post(
                    f"{platform.url('share')}/api/v1/shares",
                    headers=headers,
                    json={"content_id": content_id, "network": "linkedin"},
                )

            shared = await eventually(share, lambda r: r.status_code == 201)

            async def points() -> httpx.Response:
                return await http.get(
                    f"{platform.url('rewards')}/api/v1/me/points", headers=headers
                )

            await eventually(points, lambda r: r.status_code == 200 and r.json()["earned"] >= 10)
            body: dict[str, Any] = shared.json()
            return body

    # Playwright's own event loop runs in this thread: the seeding runs in another.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, run()).result()


@pytest.fixture(scope="module")
def item(platform: Any) -> str:
    """A published job post everyone of the tenant can share."""
    curator = token(platform.web_tenant, "curator", roles=("employee", "curator"))
    created = httpx.post(
        f"{platform.url('content')}/api/v1/content",
        headers=curator,
        json={
            "title": "We are hiring a data engineer in Oslo",
            "kind": "job",
            "url": "https://careers.example.com/jobs/impact",
            "suggested_texts": {"linkedin": "My team is hiring: come and build with us."},
        },
        timeout=10,
    )
    assert created.status_code == 201, created.text
    return str(created.json()["id"])


def test_my_impact_shows_a_click_and_its_point_without_reload(
    platform: Any, web_url: str, desktop: BrowserContext, item: str
) -> None:
    shared = _share_as(platform, "e30", "team-2", item)
    page = desktop.new_page()
    sign_in(page, web_url, platform.web_tenant, "e30", "/impact")
    page.goto(f"{web_url}/impact")
    expect(page.locator("h1")).to_have_text("My impact")
    shares = page.locator("#shares-heading + ol")
    expect(shares).to_contain_text("LinkedIn")
    expect(shares).to_contain_text("0 clicks")
    points = page.locator("#points-heading + ol")
    expect(points).to_contain_text("Shared a post")
    expect(points).to_contain_text("+10 points")
    expect(page.locator(".figures")).to_contain_text("Shares1")

    # A visitor opens the tracked link; the page follows without a reload.
    opened = httpx.get(shared["tracked_url"], headers=VISITOR, follow_redirects=False, timeout=10)
    assert opened.status_code in (301, 302, 303, 307), opened.text
    clicked_at = time.monotonic()
    expect(shares).to_contain_text("1 click", timeout=5_000)
    expect(points).to_contain_text("A unique click on a shared link", timeout=5_000)
    assert time.monotonic() - clicked_at < 5.5
    expect(page.locator("#impact-status")).to_contain_text("new click")
    expect(page.locator(".figures")).to_contain_text("Clicks1")

    page.locator("summary", has_text="Show the chart as a table").click()
    expect(page.locator("table caption")).to_contain_text("Shares and clicks per day")
    assert axe_violations(page) == []
    screenshot(page, "impact-desktop")


def test_leaderboard_ranks_me_and_lets_me_hide(
    platform: Any, web_url: str, phone: BrowserContext, item: str
) -> None:
    _share_as(platform, "e31", "team-3", item)
    _share_as(platform, "e35", "team-3", item)
    page = phone.new_page()
    sign_in(page, web_url, platform.web_tenant, "e31", "/impact")
    page.goto(f"{web_url}/impact")
    expect(page.locator("#points-heading + ol")).to_contain_text("+10 points")
    assert axe_violations(page) == []
    screenshot(page, "impact-phone")

    page.get_by_role("link", name="Leaderboard").click()
    page.get_by_role("link", name="Team").click()
    expect(page.locator("h2#board-heading")).to_contain_text("team-3")
    mine = page.locator("tr.me")
    expect(mine.first).to_contain_text("Employee 31")
    expect(page.locator("table").first).to_contain_text("Employee 35")
    assert axe_violations(page) == []
    screenshot(page, "leaderboard-phone")

    # Hidden from colleagues: my own row is still there, for me only.
    page.get_by_label("Hide me from my colleagues").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert.success")).to_contain_text("no longer see you")
    expect(page.locator(".my-rank")).to_contain_text("You are not shown on this leaderboard")
    expect(page.locator(".my-rank tr.me")).to_contain_text("10")
    expect(page.locator("table").last).not_to_contain_text("Employee 31")
    assert "scope=team" in page.url
    assert axe_violations(page) == []
    screenshot(page, "leaderboard-hidden-phone")

    page.get_by_label("Show my name and points").check()
    page.get_by_role("button", name="Save").click()
    expect(page.locator(".alert.success")).to_contain_text("shown on leaderboards again")
    expect(page.locator("tr.me").first).to_contain_text("Employee 31")

    page.get_by_role("link", name="All time").click()
    expect(page.locator("h2#board-heading")).to_contain_text("All time")


def test_a_person_without_shares_sees_what_will_appear(
    platform: Any, web_url: str, desktop: BrowserContext
) -> None:
    page = desktop.new_page()
    sign_in(page, web_url, platform.web_tenant, "e33", "/impact")
    page.goto(f"{web_url}/impact")
    expect(page.locator("main")).to_contain_text("Your shares appear here")
    expect(page.get_by_role("link", name="Go to the feed")).to_be_visible()
    assert axe_violations(page) == []


@pytest.fixture(scope="module")
def web_without_backends(platform: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A second web app whose share and rewards services do not answer."""
    dead = f"http://127.0.0.1:{free_port()}"
    web = ServiceProcess("web", "api")
    web.env = {
        **platform.web_env(f"chorus_web_{platform.suffix}_down"),
        "WEB_SHARE_URL": dead,
        "WEB_REWARDS_URL": dead,
        "WEB_METRICS_URL": dead,
        "WEB_DEV_PEOPLE": json.dumps(web_people(platform.web_tenant)),
        "WEB_BACKEND_TIMEOUT_SECONDS": "1",
    }
    web.start(tmp_path_factory.mktemp("web-down"))
    try:
        web.wait_healthy()
        yield web.url
    finally:
        web.stop()


def test_pages_say_what_is_unavailable_when_services_are_down(
    platform: Any, web_without_backends: str, phone: BrowserContext
) -> None:
    page = phone.new_page()
    sign_in(page, web_without_backends, platform.web_tenant, "e32", "/impact")
    response = page.goto(f"{web_without_backends}/impact")
    assert response is not None and response.status == 200
    main = page.locator("main")
    expect(main).to_contain_text("Your shares and clicks are unavailable right now.")
    expect(main).to_contain_text("Your points are unavailable right now.")
    expect(main).to_contain_text("Your badges are unavailable right now.")
    assert axe_violations(page) == []
    screenshot(page, "impact-unavailable-phone")

    response = page.goto(f"{web_without_backends}/leaderboard")
    assert response is not None and response.status == 200
    expect(main).to_contain_text("The leaderboard is unavailable right now.")
    assert axe_violations(page) == []


def test_a_browser_package_not_installed_is_a_404_and_logged(platform: Any, tmp_path: Path) -> None:
    web = ServiceProcess("web", "api")
    web.env = {
        **platform.web_env(f"chorus_web_{platform.suffix}_bare"),
        "WEB_DEV_PEOPLE": json.dumps(web_people(platform.web_tenant)),
        "WEB_ASSETS_DIR": str(tmp_path / "not-installed"),
    }
    web.start(tmp_path)
    try:
        web.wait_healthy()
        missing = httpx.get(f"{web.url}/static/vendor/htmx.min.js")
        assert missing.status_code == 404, missing.text
        assert "web asset missing" in web.log_tail(40)
    finally:
        web.stop()
