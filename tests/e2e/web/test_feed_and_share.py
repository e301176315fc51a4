"""The feed's filters, paging and marks; the share panel's errors, schedule, and a page
that still renders when the services behind it are down."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, expect
from web_support import (
    csrf_of,
    join,
    new_context,
    publish,
    reload_until,
    sign_in,
    sign_in_client,
    wait_shareable,
)

from support import ServiceProcess, free_port, ref, token


def test_feed_filters_pages_and_marks_what_i_shared_and_what_is_new(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    topic = ref("topic")
    items = [
        publish(platform, tenant, title=f"Story {n:02d} of {topic}", topics=[topic])
        for n in range(14)
    ]
    job = publish(platform, tenant, title=f"A job of {topic}", kind="job", topics=[topic])
    join(platform, tenant, "e15")
    wait_shareable(platform, tenant, items[-1]["id"])
    shared = httpx.post(
        f"{platform.url('share')}/api/v1/shares",
        json={"content_id": items[-1]["id"], "network": "linkedin"},
        headers=token(tenant, "e15"),
    )
    assert shared.status_code == 201, shared.text

    context = new_context(browser, "desktop")
    page = context.new_page()
    sign_in(page, web_url, tenant, "e15")
    page.goto(f"{web_url}/feed?topic={topic}")
    cards = page.locator("article.card")
    expect(cards).to_have_count(12)
    # My own share marked (the content service counts it by event, so it may take a moment).
    shared = page.locator("article", has_text=f"Story 13 of {topic}").get_by_text("Shared ✓")
    reload_until(page, shared.count, 30)
    expect(page.locator("article", has_text=f"Story 13 of {topic}")).to_contain_text("Shared ✓")
    # Within a day, the most shared first, then the newest: the shared story, then the job.
    reload_until(page, lambda: f"Story 13 of {topic}" in (cards.first.text_content() or ""), 30)
    expect(cards.nth(0)).to_contain_text(f"Story 13 of {topic}")
    expect(cards.nth(1)).to_contain_text(f"A job of {topic}")
    # The next page arrives in place, with the person still on the same address.
    page.get_by_role("link", name="Show more").click()
    expect(cards).to_have_count(15)
    assert page.url.endswith(f"/feed?topic={topic}")
    # A filter by kind, from the chips.
    page.get_by_role("navigation", name="Filter by kind").get_by_role("link", name="Job").click()
    expect(page.get_by_role("heading", name=f"A job of {topic}")).to_be_visible()
    expect(cards).to_have_count(1)
    # On a first visit nothing is "new"; after it, what was published since is.
    assert page.get_by_text("New", exact=True).count() == 0
    page.goto(f"{web_url}/me")
    page.get_by_role("button", name="Sign out").click()
    fresh = publish(platform, tenant, title=f"Fresh news of {topic}", topics=[topic])
    sign_in(page, web_url, tenant, "e15")
    page.goto(f"{web_url}/feed?topic={topic}")
    fresh_card = page.locator("article", has=page.get_by_role("heading", name=fresh["title"]))
    expect(fresh_card.get_by_text("New", exact=True)).to_be_visible()
    old_card = page.locator("article", has=page.get_by_role("heading", name=job["title"]))
    expect(old_card.get_by_text("New", exact=True)).to_have_count(0)
    context.close()


def test_without_javascript_the_next_page_is_a_link(platform: Any, web_url: str) -> None:
    tenant = platform.web_tenant
    topic = ref("topic")
    for n in range(13):
        publish(platform, tenant, title=f"Plain {n} of {topic}", topics=[topic])
    client = sign_in_client(web_url, tenant, "e16")
    first = client.get("/feed", params={"topic": topic})
    more = re.search(r'href="(/feed\?[^"]*cursor=[^"]+)"', first.text)
    assert more is not None
    second = client.get(more.group(1).replace("&amp;", "&"))
    assert second.status_code == 200
    assert second.text.count('class="card"') == 1


def test_a_text_too_long_is_refused_next_to_its_field_in_my_language(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    item = publish(platform, tenant, title="Too long for X", kind="article")
    wait_shareable(platform, tenant, item["id"])
    join(platform, tenant, "e17")
    # The server's check, not the browser's counter: no JavaScript here.
    context = new_context(browser, "phone", java_script_enabled=False)
    page = context.new_page()
    sign_in(page, web_url, tenant, "e17")
    page.goto(f"{web_url}/me")
    page.select_option("#language-choice", "sv")
    page.locator("form.language").get_by_role("button").click()
    expect(page.locator("html")).to_have_attribute("lang", "sv")
    page.goto(f"{web_url}/share/{item['id']}?network=x")
    page.get_by_label("X", exact=True).check()
    page.locator("#text").fill("a" * 300)
    page.locator("[data-share-button]").click()
    error = page.locator("#text-error")
    expect(error).to_have_text("300 tecken: X tar högst 280.")
    expect(page.locator("#text")).to_have_attribute("aria-describedby", re.compile("text-error"))
    expect(page.locator("#error-summary")).to_be_visible()
    shares = httpx.get(
        f"{platform.url('share')}/api/v1/shares",
        params={"employee_id": "e17"},
        headers=token(tenant, "e17"),
    ).json()["items"]
    assert shares == []
    context.close()


def test_a_share_is_scheduled_where_the_network_posts_for_me(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    item = publish(platform, tenant, title="Scheduled for later", kind="article")
    wait_shareable(platform, tenant, item["id"])
    join(platform, tenant, "e18")
    connected = httpx.put(
        f"{platform.url('share')}/api/v1/advocates/me/networks/linkedin",
        json={"audience_size": 500, "access_token": "a-token", "author": "urn:li:person:e18"},
        headers=token(tenant, "e18"),
    )
    assert connected.status_code == 200, connected.text
    context = new_context(browser, "desktop")
    page = context.new_page()
    sign_in(page, web_url, tenant, "e18")
    page.goto(f"{web_url}/share/{item['id']}")
    when = (datetime.now() + timedelta(days=1)).replace(second=0, microsecond=0)
    page.get_by_label("Post it for me later (optional)").fill(when.strftime("%Y-%m-%dT%H:%M"))
    page.locator("[data-share-button]").click()
    page.wait_for_url(re.compile(r"/shared/"))
    expect(page.get_by_text("Your post is scheduled.")).to_be_visible()
    shares = httpx.get(
        f"{platform.url('share')}/api/v1/shares",
        params={"employee_id": "e18"},
        headers=token(tenant, "e18"),
    ).json()["items"]
    assert [s["status"] for s in shares] == ["scheduled"]
    context.close()


def test_every_page_renders_when_the_services_behind_it_are_down(
    platform: Any, tmp_path: Any
) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    web = ServiceProcess(
        "web",
        "api",
        env={
            "WEB_DATABASE": f"chorus_web_{platform.suffix}_down",
            "WEB_CONTENT_URL": dead,
            "WEB_SHARE_URL": dead,
            "WEB_REWARDS_URL": dead,
            "WEB_METRICS_URL": dead,
            "WEB_PEOPLE_URL": dead,
            "WEB_DEV_PEOPLE": '[{"id": "e1", "name": "E One", "tenant": "down"}]',
        },
    ).start(tmp_path)
    try:
        web.wait_healthy()
        client = sign_in_client(web.url, "down", "e1")
        for path in (
            "/feed",
            "/share/abc123",
            "/impact",
            "/leaderboard",
            "/rewards",
            "/join",
            "/me",
        ):
            page = client.get(path)
            assert page.status_code in (200, 404), (path, page.status_code)
            assert "Something went wrong" not in page.text, path
            assert "unavailable" in page.text.lower(), path
        # Forms that need no service to show.
        for path in ("/share/own", "/suggest"):
            assert client.get(path).status_code == 200
        export = client.get("/me/export")
        assert export.status_code == 200
        # Each service's part says it is missing, rather than look empty.
        for service in ("content", "share", "rewards", "metrics", "people"):
            assert export.json()[service]["unavailable"], service
        form = client.get("/feed")
        assert client.post(
            "/share/abc123", data={"csrf": csrf_of(form.text), "network": "linkedin", "text": "x"}
        ).status_code in (422, 503)
    finally:
        web.stop()
