"""Helpers of the web app's tests: seeding through the services' APIs, signed-in clients."""

from __future__ import annotations

import asyncio
import os
import shutil
import threading
import time
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
from aiokafka import AIOKafkaProducer
from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import Browser, BrowserContext, Page

from support import KAFKA, REPO, csrf_of, ref, token

CHROMIUM = os.environ.get("CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
ARTIFACTS = Path(os.environ.get("CHORUS_ARTIFACTS", REPO / ".cache" / "artifacts"))
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}
# WCAG 2.0, 2.1 and 2.2 A and AA rules.
WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]


def publish(platform: Any, tenant: str, **fields: Any) -> dict[str, Any]:
    """A curator publishes an item through the content API."""
    body = {"kind": "article", "url": "https://www.example.com/news", **fields}
    response = httpx.post(
        f"{platform.url('content')}/api/v1/content",
        json=body,
        headers=token(tenant, "curator", roles=("employee", "curator")),
        timeout=10,
    )
    response.raise_for_status()
    item: dict[str, Any] = response.json()
    return item


def join(platform: Any, tenant: str, person: str) -> None:
    """The person joins the program through the share API."""
    response = httpx.post(
        f"{platform.url('share')}/api/v1/advocates/me",
        json={"accept": True},
        headers=token(tenant, person),
        timeout=10,
    )
    assert response.status_code in (200, 201), response.text


def wait_shareable(platform: Any, tenant: str, content_id: str) -> None:
    """Until the share service knows the item (it learns of it from ContentPublished): a
    person of this call's own shares it as soon as it can be shared."""
    probe = ref("probe")
    join(platform, tenant, probe)
    deadline = time.monotonic() + 30
    while True:
        response = httpx.post(
            f"{platform.url('share')}/api/v1/shares",
            json={"content_id": content_id, "network": "email"},
            headers=token(tenant, probe),
            timeout=10,
        )
        if response.status_code == 201:
            return
        assert time.monotonic() < deadline, response.text
        time.sleep(0.3)


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"<!doctype html><title>Careers</title><h1>Platform engineer</h1>"
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass


class CompanySite:
    """The company's own careers site, where a tracked link leads: on this machine."""

    def __init__(self) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def sign_in_client(web_url: str, tenant: str, person: str) -> httpx.Client:
    """An HTTP client signed in through the development sign-in form."""
    client = httpx.Client(base_url=web_url, timeout=15)
    page = client.get("/signin")
    response = client.post(
        "/signin", data={"person": f"{tenant}/{person}", "csrf": csrf_of(page.text)}
    )
    assert response.status_code == 303, response.text
    return client


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


def reload_until(page: Page, ready: Callable[[], object], times: int, every_ms: int = 500) -> None:
    """Reload `page` (at most `times` times, `every_ms` apart) until `ready()` is true: what
    an event brings is counted by another service a moment later. The test's `expect`
    after it says what was missing."""
    for _ in range(times):
        if ready():
            return
        page.wait_for_timeout(every_ms)
        page.reload()


def screenshot(page: Page, name: str) -> Path:
    """A full-page screenshot written as a test artifact."""
    path = ARTIFACTS / "screens" / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), full_page=True)
    return path


def produce(events: list[Any]) -> None:
    """Publish contract events to Kafka, from a thread of its own: the browser's event
    loop is this thread's."""

    async def send() -> None:
        producer = AIOKafkaProducer(bootstrap_servers=KAFKA, acks="all", enable_idempotence=True)
        await producer.start()
        try:
            sent = [
                await producer.send(
                    event.topic, event.to_json(), key=event.partition_key().encode()
                )
                for event in events
            ]
            for future in sent:
                await future
        finally:
            await producer.stop()

    thread = threading.Thread(target=lambda: asyncio.run(send()))
    thread.start()
    thread.join(60)
