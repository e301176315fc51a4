"""The program team's content pages in a real browser: a curator composes an item from a
link, an admin approves and schedules it, and when its time comes it reaches the feed of
the group it targets and no one else's; the composer, queue, calendar and guidelines pass
axe on a phone and a desktop."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect
from web_support import REPO, axe_violations, new_context, screenshot, sign_in

from chassis.auth import issue_token
from chassis.settings import LOCAL_JWT_SECRET

SCREENS = REPO / "docs" / "screens"
IMAGE = (
    b'<svg xmlns="http://www.w3.org/2000/svg" width="1200" height="630" viewBox="0 0 1200 630">'
    b'<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1">'
    b'<stop offset="0" stop-color="#2f4ac0"/><stop offset="1" stop-color="#1e7a3c"/>'
    b'</linearGradient></defs><rect width="1200" height="630" fill="url(#g)"/>'
    b'<circle cx="420" cy="315" r="150" fill="#fff" opacity=".25"/>'
    b'<circle cx="700" cy="315" r="150" fill="#fff" opacity=".4"/></svg>'
)


class _Story(BaseHTTPRequestHandler):
    """The company's blog: a page with OpenGraph tags, and its image."""

    def do_GET(self) -> None:
        host = f"http://127.0.0.1:{self.server.server_address[1]}"
        if self.path.startswith("/cover.svg"):
            body, kind = IMAGE, "image/svg+xml"
        else:
            body = (
                "<!doctype html><html><head><title>Blog</title>"
                '<meta property="og:title" content="A day with the platform team">'
                '<meta property="og:description" content="How twelve engineers keep the '
                'lights on for two million people, and what they do on Fridays.">'
                f'<meta property="og:image" content="{host}/cover.svg">'
                "</head><body><h1>A day with the platform team</h1></body></html>"
            ).encode()
            kind = "text/html; charset=utf-8"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def blog() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Story)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def _enrol(platform: Any, tenant: str, person: str, group: str, location: str) -> None:
    jwt = issue_token(
        LOCAL_JWT_SECRET, sub=person, tenant=tenant, groups=[group], location=location
    )
    response = httpx.post(
        f"{platform.url('share')}/api/v1/advocates/me",
        json={"accept": True},
        headers={"Authorization": f"Bearer {jwt}"},
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text


def _clean(page: Page, where: str) -> None:
    violations = axe_violations(page)
    assert violations == [], f"{where}: {violations}"


def _viewport_shot(page: Page, name: str) -> None:
    SCREENS.mkdir(parents=True, exist_ok=True)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(Path(SCREENS / f"{name}.png")))


def test_a_curator_composes_an_admin_schedules_and_only_the_group_sees_it(
    platform: Any, web_url: str, browser: Browser, blog: str
) -> None:
    tenant = platform.web_tenant
    _enrol(platform, tenant, "e41", "team-1", "Oslo")
    _enrol(platform, tenant, "e42", "team-2", "Helsinki")
    title = f"A day with the platform team {int(time.time())}"

    # The blog is http on this machine, which the CSP (https images) refuses to show.
    curator = new_context(browser, "desktop", bypass_csp=True)
    page = curator.new_page()
    sign_in(page, web_url, tenant, "curator", "/program/content/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("New item")
    page.get_by_label("Address of the page").fill(f"{blog}/blog/platform-team")
    page.get_by_role("button", name="Fetch preview").click()
    expect(page.get_by_label("Title", exact=True)).to_have_value("A day with the platform team")
    expect(page.get_by_label("Description")).to_have_value(
        "How twelve engineers keep the lights on for two million people, "
        "and what they do on Fridays."
    )
    expect(page.get_by_label("Image address")).to_have_value(f"{blog}/cover.svg")
    # The card as employees see it already shows the preview.
    expect(page.locator(".frame.phone .card h2")).to_have_text("A day with the platform team")
    page.get_by_label("Title", exact=True).fill(title)
    page.get_by_label("Text for LinkedIn").fill(
        "Ever wondered who keeps our apps running at 3 a.m.? Meet the platform team."
    )
    x_text = page.get_by_label("Text for X")
    x_text.fill("Meet the platform team: twelve engineers, two million people. #engineering")
    expect(page.locator("#text_x-counter")).to_contain_text("/ 280")
    page.get_by_label("Topics").fill("engineering, careers")
    page.get_by_label("Groups").fill("team-1")
    expect(page.locator("#audience-count")).to_contain_text("Reaches")
    page.get_by_label("Send for review").check()
    _clean(page, "composer, desktop")
    _viewport_shot(page, "composer-desktop")
    page.get_by_role("button", name="Save the item").click()
    expect(page.get_by_role("status").filter(has_text="Sent for review.")).to_be_visible()
    expect(page.locator("#review").get_by_role("heading", name=title)).to_be_visible()
    curator.close()

    admin = new_context(browser, "desktop")
    page = admin.new_page()
    sign_in(page, web_url, tenant, "admin", "/program/content")
    row = page.locator(".queue-item", has=page.get_by_role("heading", name=title))
    expect(row).to_be_visible()
    _clean(page, "queue, desktop")
    _viewport_shot(page, "queue-desktop")
    row.get_by_role("link", name=f"Edit {title}").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Edit the item")
    expect(page.get_by_label("Groups")).to_have_value("team-1")
    page.get_by_label("Schedule", exact=True).check()
    # The edit form's times are in UTC; a few seconds ahead, at second precision.
    due = datetime.now(UTC) + timedelta(seconds=6)
    page.get_by_label("Publish at").fill(due.strftime("%Y-%m-%dT%H:%M:%S"))
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_role("status").filter(has_text="Saved and scheduled.")).to_be_visible()
    page.goto(f"{web_url}/program/content/calendar")
    # Published already when the page loads late: the calendar then lists nothing for it.
    if datetime.now(UTC) < due - timedelta(seconds=1):
        expect(page.get_by_role("link", name=title)).to_be_visible()
    _clean(page, "calendar, desktop")
    page.goto(f"{web_url}/program/guidelines")
    expect(page.get_by_role("heading", level=1)).to_have_text("Guidelines")
    _clean(page, "guidelines, desktop")
    admin.close()

    # When the time comes: in the feed of e41 (team-1), and never in e42's (team-2).
    inside = new_context(browser, "phone")
    outside = new_context(browser, "phone")
    mine, theirs = inside.new_page(), outside.new_page()
    sign_in(mine, web_url, tenant, "e41")
    sign_in(theirs, web_url, tenant, "e42")
    deadline = time.monotonic() + 40
    while not mine.get_by_role("heading", name=title).is_visible():
        assert time.monotonic() < deadline, "the scheduled item never reached the group's feed"
        time.sleep(1)
        mine.reload()
    theirs.reload()
    expect(theirs.get_by_role("heading", level=1)).to_have_text("Feed")
    expect(theirs.get_by_role("heading", name=title)).to_have_count(0)
    inside.close()
    outside.close()


def test_the_content_pages_pass_axe_on_a_phone(
    platform: Any, web_url: str, browser: Browser
) -> None:
    context = new_context(browser, "phone")
    page = context.new_page()
    sign_in(page, web_url, platform.web_tenant, "admin", "/program/content/new")
    expect(page.get_by_role("heading", level=1)).to_have_text("New item")
    _clean(page, "composer, phone")
    screenshot(page, "program-composer-phone")
    for path, heading in (
        ("/program/content", "Content queue"),
        ("/program/content/calendar", "Content calendar"),
        ("/program/guidelines", "Guidelines"),
    ):
        page.goto(f"{web_url}{path}")
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        _clean(page, f"{path}, phone")
        screenshot(page, f"program{path.replace('/program', '').replace('/', '-') or '-'}-phone")
    # Someone outside the program team gets a 403 page, not the composer.
    page.context.clear_cookies()
    sign_in(page, web_url, platform.web_tenant, "e43", "/feed")
    answer = page.goto(f"{web_url}/program/content/new")
    assert answer is not None and answer.status == 403
    context.close()
