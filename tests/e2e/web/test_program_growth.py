"""Network growth in a real browser: an admin records the company page's follower counts
(mistakes are refused next to the field), advocates give their audience sizes, and the
page shows the growth figures and the followers' line; it passes axe on a desktop and a
phone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from playwright.sync_api import Browser, expect
from web_support import (
    axe_violations,
    join,
    new_context,
    publish,
    reload_until,
    screenshot,
    sign_in,
    wait_shareable,
)

from support import token

FIGURE = "[data-figure={}] .figure-value"


def test_an_admin_records_followers_and_the_page_shows_the_growth(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    # Two advocates tell their audience sizes twice: each is a measurement.
    for person, sizes in (("e09", (400, 460)), ("e10", (1000, 1040))):
        join(platform, tenant, person)
        for size in sizes:
            reply = httpx.put(
                f"{platform.url('share')}/api/v1/advocates/me/networks/linkedin",
                json={"audience_size": size},
                headers=token(tenant, person),
                timeout=10,
            )
            assert reply.status_code == 200, reply.text

    # Three posts between them: 100 new connections, 33.3 per post.
    item = publish(platform, tenant, title="Growth: our engineering blog")
    wait_shareable(platform, tenant, item["id"])
    for person in ("e09", "e09", "e10"):
        shared = httpx.post(
            f"{platform.url('share')}/api/v1/shares",
            json={"content_id": item["id"], "network": "linkedin"},
            headers=token(tenant, person),
            timeout=10,
        )
        assert shared.status_code == 201, shared.text

    # The page's counts of the last three months, about weekly (the form adds two more).
    admin = token(tenant, "admin", roles=("employee", "admin"))
    for week in range(12):
        day = datetime.now(UTC) - timedelta(days=84 - 7 * week)
        recorded = httpx.post(
            f"{platform.url('share')}/api/v1/company/followers",
            json={
                "network": "linkedin",
                "followers": 12000 + 130 * week + (40 if week % 3 == 1 else 0),
                "measured_at": day.isoformat(),
            },
            headers=admin,
            timeout=10,
        )
        assert recorded.status_code == 201, recorded.text

    context = new_context(browser, "desktop")
    page = context.new_page()
    sign_in(page, web_url, tenant, "admin", "/program/analytics")
    page.get_by_role("link", name="Network growth").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Network growth")

    form = page.locator("form.record-followers")
    form.get_by_label("Followers").fill("a lot")
    form.get_by_label("Counted on").fill((datetime.now(UTC) + timedelta(days=3)).date().isoformat())
    form.get_by_role("button", name="Record count").click()
    expect(page.locator("#followers-error")).to_have_text(
        "Enter the number of followers as a whole number, like 12400."
    )
    expect(page.locator("#measured_on-error")).to_have_text("Choose a day up to today.")
    expect(page.get_by_role("textbox", name="Followers")).to_have_attribute("aria-invalid", "true")

    # One for a day in the past, one for today (the day left empty).
    for followers, day in (
        ("12,800", (datetime.now(UTC) - timedelta(days=45)).date().isoformat()),
        ("13680", ""),
    ):
        form = page.locator("form.record-followers")
        form.get_by_label("Network").select_option("linkedin")
        form.get_by_label("Followers").fill(followers)
        form.get_by_label("Counted on").fill(day)
        form.get_by_role("button", name="Record count").click()
        expect(page.get_by_role("status").first).to_contain_text("Recorded")

    company = page.locator(FIGURE.format("company_follower_growth"))
    reload_until(page, lambda: company.inner_text() == "+14%", 40)
    expect(company).to_have_text("+14%")
    # 400 -> 460 and 1,000 -> 1,040: +15 % and +4 %, on average +9.5 %.
    expect(page.locator(FIGURE.format("advocate_network_growth"))).to_have_text("+9.5%")
    expect(page.locator(FIGURE.format("new_connections_per_post"))).to_have_text("33.3")
    expect(page.locator(".growth-chart circle")).to_have_count(14)
    expect(page.get_by_role("table")).to_contain_text("13,680")
    assert axe_violations(page) == []
    page.evaluate("window.scrollTo(0, 0)")
    screenshot(page, "growth-desktop")
    # Leadership sees both, in its report: the growth and the share of employees taking part.
    page.goto(f"{web_url}/program/analytics/report?preset=90d")
    growth = page.get_by_role("region", name="Network growth and participation")
    expect(growth.locator("[data-figure=company_follower_growth]")).to_contain_text("+14%")
    expect(growth.locator("[data-figure=participation] td").first).to_contain_text("%")
    context.close()

    phone = new_context(browser, "phone")
    page = phone.new_page()
    sign_in(page, web_url, tenant, "curator", "/program/analytics/growth")
    expect(page.locator(FIGURE.format("company_follower_growth"))).to_have_text("+14%")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    assert axe_violations(page) == []
    screenshot(page, "growth-phone")
    # Curators read the figures; only admins record counts.
    expect(page.get_by_role("heading", name="Record the follower count")).to_have_count(0)
    phone.close()
