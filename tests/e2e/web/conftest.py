"""Browser tests of the web app: Playwright driving Debian's Chromium, axe-core for WCAG."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, sync_playwright
from web_support import CHROMIUM, CompanySite, new_context


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


@pytest.fixture(scope="session")
def company_site() -> Iterator[CompanySite]:
    site = CompanySite()
    yield site
    site.close()
