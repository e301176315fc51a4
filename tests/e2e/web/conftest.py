"""Browser tests of the web app: Playwright driving Debian's Chromium, axe-core for WCAG."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, sync_playwright

from support import REPO

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CHORUS_ARTIFACTS", REPO / ".cache" / "artifacts"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# WCAG 2.0, 2.1 and 2.2 A and AA rules.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as running:
        yield running


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    launched = playwright.chromium.launch(executable_path=CHROMIUM)
    yield launched
    launched.close()


@pytest.fixture(scope="session")
def web_url(platform: Any) -> str:
    return str(platform.url("web"))


def new_context(browser: Browser, size: str = "desktop", **options: Any) -> BrowserContext:
    phone = size == "phone"
    context = browser.new_context(
        viewport=PHONE if phone else DESKTOP,
        is_mobile=phone,
        has_touch=phone,
        **options,
    )
    context.set_default_timeout(15_000)
    return context


@pytest.fixture
def desktop(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser, "desktop")
    yield context
    context.close()


@pytest.fixture
def phone(browser: Browser) -> Iterator[BrowserContext]:
    context = new_context(browser, "phone")
    yield context
    context.close()


def sign_in(page: Page, web_url: str, tenant: str, person: str, next_: str = "/feed") -> None:
    """The development sign-in, as a person does it: pick yourself from the list."""
    page.goto(f"{web_url}/signin?next={next_}")
    page.locator(f"button[name=person][value='{tenant}/{person}']").click()
    page.wait_for_load_state()


_axe = Axe()


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """axe-core's WCAG 2.2 AA violations on the page as it is now."""
    results = _axe.run(page, options={"runOnly": {"type": "tag", "values": WCAG_TAGS}})
    violations: list[dict[str, Any]] = results.response["violations"]
    return [
        {
            "id": v["id"],
            "impact": v["impact"],
            "help": v["help"],
            "nodes": [n["target"] for n in v["nodes"]][:5],
        }
        for v in violations
    ]


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot written as a test artifact."""
    path = ARTIFACTS / "screens" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path
