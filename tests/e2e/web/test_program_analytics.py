"""The program team's analytics in a real browser: a click shows up live, the CSV matches the
page, the leadership report renders as a PDF, and both pages pass axe."""

from __future__ import annotations

import csv
import io
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from playwright.sync_api import Browser, expect
from web_support import (
    ARTIFACTS,
    REPO,
    CompanySite,
    axe_violations,
    join,
    new_context,
    publish,
    screenshot,
    sign_in,
    wait_shareable,
)

from support import token

BROWSER_UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
CLICKS = "[data-figure=clicks] .figure-value"


def _share(platform: Any, tenant: str, person: str, content_id: str) -> str:
    response = httpx.post(
        f"{platform.url('share')}/api/v1/shares",
        json={"content_id": content_id, "network": "linkedin"},
        headers=token(tenant, person),
        timeout=10,
    )
    assert response.status_code == 201, response.text
    tracked: str = response.json()["tracked_url"]
    return tracked


def test_a_click_appears_live_and_the_csv_matches_the_page(
    platform: Any, web_url: str, browser: Browser, company_site: CompanySite
) -> None:
    tenant = platform.web_tenant
    item = publish(
        platform,
        tenant,
        title="Analytics: Data engineer, Helsinki",
        kind="job",
        url=f"{company_site.url}/jobs/data-engineer",
    )
    wait_shareable(platform, tenant, item["id"])
    join(platform, tenant, "e53")
    tracked = _share(platform, tenant, "e53", item["id"])

    context = new_context(browser, "desktop", accept_downloads=True)
    page = context.new_page()
    sign_in(page, web_url, tenant, "curator", "/program/analytics")
    page.goto(f"{web_url}/program/analytics?preset=7d")
    expect(page.get_by_role("heading", level=1)).to_have_text("Analytics")
    # The share is counted by the metrics worker from its event: wait until the page has it.
    expect(page.locator("[data-figure=shares] .figure-value")).not_to_have_text("0")
    before = page.locator(CLICKS).inner_text()

    # A visitor opens the tracked link; the open page shows the click within 2 s.
    visitor = browser.new_context(user_agent=BROWSER_UA)
    visit = visitor.new_page()
    clicked = time.monotonic()
    visit.goto(tracked)
    assert visit.url.startswith(f"{company_site.url}/jobs/data-engineer")
    visitor.close()
    expect(page.locator(CLICKS)).not_to_have_text(before, timeout=2_000)
    print(f"click visible on the analytics page after {time.monotonic() - clicked:.2f} s")
    assert page.locator("#analytics-live").count() == 1

    # The figures' CSV holds the same clicks as the page.
    shown = float(page.locator(CLICKS).get_attribute("data-value") or "nan")
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as CSV (Figures)").click()
    download = info.value
    assert download.suggested_filename.startswith("chorus-figures-")
    rows = {r["figure"]: r for r in csv.DictReader(io.StringIO(Path(download.path()).read_text()))}
    assert float(rows["clicks"]["value"]) == shown
    assert float(rows["shares"]["value"]) == float(
        page.locator("[data-figure=shares] .figure-value").get_attribute("data-value") or "nan"
    )
    # A breakdown's CSV adds up to the headline figure.
    with page.expect_download() as info:
        page.get_by_role("link", name="Download as CSV (By network)").click()
    networks = list(csv.DictReader(io.StringIO(Path(info.value.path()).read_text())))
    assert sum(float(r["clicks"]) for r in networks) == shown
    # By the sharers' locations and by the items' topics, beside the others.
    for title, table in (("By location", "locations"), ("By topic", "topics")):
        expect(page.get_by_role("heading", name=title, exact=True)).to_be_visible()
        with page.expect_download() as info:
            page.get_by_role("link", name=f"Download as CSV ({title})").click()
        assert info.value.suggested_filename.startswith(f"chorus-{table}-")

    page.reload()
    expect(page.locator(CLICKS)).not_to_have_text("0")
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(REPO / "docs" / "screens" / "analytics-desktop.png"))
    screenshot(page, "program-analytics-desktop")
    context.close()


def test_the_leadership_report_renders_as_a_pdf(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    context = new_context(browser, "desktop")
    page = context.new_page()
    sign_in(page, web_url, tenant, "admin", "/program/analytics/report")
    page.goto(f"{web_url}/program/analytics/report?preset=30d")
    expect(page.get_by_role("heading", level=1)).to_have_text("Report for leadership")
    expect(page.get_by_role("heading", name="Trends against the previous period")).to_be_visible()
    screenshot(page, "program-report-desktop")
    response = page.request.get(f"{web_url}/program/analytics/report.pdf?preset=30d")
    assert response.status == 200
    assert response.headers["content-type"] == "application/pdf"
    out = ARTIFACTS / "reports"
    out.mkdir(parents=True, exist_ok=True)
    pdf = out / "leadership-report.pdf"
    pdf.write_bytes(response.body())
    subprocess.run(
        [
            "pdftoppm",
            "-png",
            "-r",
            "80",
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(pdf),
            str(out / "leadership-report"),
        ],
        check=True,
        timeout=30,
    )
    png = out / "leadership-report.png"
    assert png.exists() and png.stat().st_size > 5_000
    text = subprocess.run(
        ["pdftotext", "-l", "1", str(pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    assert "Report for leadership" in text
    assert "Trends against the previous period" in text
    context.close()


def test_analytics_and_report_pass_axe_on_a_phone_and_a_desktop(
    platform: Any, web_url: str, browser: Browser
) -> None:
    tenant = platform.web_tenant
    for size in ("phone", "desktop"):
        context = new_context(browser, size)
        page = context.new_page()
        sign_in(page, web_url, tenant, "curator", "/program/analytics")
        for path in ("/program/analytics?preset=30d", "/program/analytics/report?preset=30d"):
            page.goto(f"{web_url}{path}")
            if "report" not in path:
                page.locator("details.how summary").first.click()
            assert axe_violations(page) == [], (size, path)
        page.goto(f"{web_url}/program/analytics?preset=30d")
        screenshot(page, f"program-analytics-{size}")
        context.close()


def test_employees_get_a_403_page(platform: Any, web_url: str, browser: Browser) -> None:
    context = new_context(browser, "phone")
    page = context.new_page()
    sign_in(page, web_url, platform.web_tenant, "e54", "/feed")
    response = page.goto(f"{web_url}/program/analytics")
    assert response is not None and response.status == 403
    context.close()
