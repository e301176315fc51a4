"""The short-link listener speaks HTTP/1.1 the way clients and proxies use it.

Served over a real socket, with hand-written fakes of the link cache and the click
recorder (the redirect's behaviour against the real servers is in the integration tests).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import cast

import pytest

from contracts import Network
from share.domain.clicks import DailySalts
from share.domain.shares import Share
from share.entrypoints.links_server import LinksServer, client_address, proxy_networks
from share.service_layer.handlers import Services
from support import free_port

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"
TARGET = "https://example.com/jobs/42?utm_source=x"
SHARE = Share(
    id="sh_1",
    short_code="Abcd1234",
    tenant="acme",
    employee_id="e1",
    network=Network.X,
    content_id="c1",
    target_url=TARGET,
)
# An own post whose link was off the tenant's link domains when it was shared.
OWN_TARGET = "https://evil.example/p?a=1&utm_source=x"
OWN_POST = replace(
    SHARE,
    id="sh_2",
    short_code="Own12345",
    content_id=None,
    target_allowed=False,
    target_url=OWN_TARGET,
)


@dataclass
class FakeLinks:
    # "warm": every link in memory; "cold": looked up each time; "down": lookups fail.
    state: str = "warm"

    def cached(self, code: str) -> Share | None:
        return self._known(code) if self.state == "warm" else None

    async def get(self, code: str) -> Share | None:
        await asyncio.sleep(0.01)
        if self.state == "down":
            raise ConnectionError("store unreachable")
        return self._known(code)

    def _known(self, code: str) -> Share | None:
        return {share.short_code: share for share in (SHARE, OWN_POST)}.get(code)


@dataclass
class FakeClicks:
    visitors: list[str] = field(default_factory=list)
    delay: float = 0.0
    tasks: set[asyncio.Task[None]] = field(default_factory=set)

    def record_soon(
        self, share: Share, visitor: str, at: datetime, then: Callable[[None], None]
    ) -> None:
        recording = asyncio.ensure_future(self._record(visitor))
        self.tasks.add(recording)
        recording.add_done_callback(lambda _: then(None))

    async def _record(self, visitor: str) -> None:
        await asyncio.sleep(self.delay)
        self.visitors.append(visitor)


@dataclass
class FakeServices:
    clicks: FakeClicks = field(default_factory=FakeClicks)
    links_cache: FakeLinks = field(default_factory=FakeLinks)
    salts: DailySalts = field(default_factory=lambda: DailySalts(b"secret"))
    link_secret: bytes = b"secret"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))


@pytest.fixture
async def served() -> AsyncIterator[tuple[LinksServer, FakeServices]]:
    services = FakeServices()
    server = LinksServer(
        cast(Services, services),
        "127.0.0.1",
        free_port(),
        trusted_proxies=proxy_networks(["127.0.0.1"]),
        idle_timeout=1.0,
        header_timeout=0.5,
        max_header_bytes=4096,
    )
    await server.start()
    yield server, services
    await server.stop()


async def _exchange(port: int, raw: bytes, *, until_closed: bool = False) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(raw)
    await writer.drain()
    if until_closed:
        data = await asyncio.wait_for(reader.read(), 10)
    else:
        data = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
    writer.close()
    return data


def _get(path: str, *extra: str, version: str = "1.1") -> bytes:
    lines = [f"GET {path} HTTP/{version}", "Host: go.example.com", f"User-Agent: {BROWSER}"]
    return ("\r\n".join([*lines, *extra]) + "\r\n\r\n").encode()


async def test_a_click_is_a_302_to_the_stored_target(served) -> None:
    server, services = served
    answer = await _exchange(server.port, _get("/l/Abcd1234?url=https://evil.example.net"))
    assert answer.startswith(b"HTTP/1.1 302 Found\r\n")
    assert f"location: {TARGET}\r\n".encode() in answer
    assert b"cache-control: private, no-store\r\n" in answer
    assert len(services.clicks.visitors) == 1


async def test_an_own_post_off_the_list_shows_where_it_leads_and_counts(served) -> None:
    server, services = served
    raw = _get("/l/Own12345").replace(b"GET", b"HEAD", 1) + _get("/l/Own12345", "Connection: close")
    answer = await _exchange(server.port, raw, until_closed=True)
    assert answer.count(b"HTTP/1.1 200 OK\r\n") == 2
    assert b"location:" not in answer
    assert b"cache-control: no-store\r\n" in answer
    assert b"x-robots-tag: noindex" in answer
    assert b"content-security-policy: default-src 'none';" in answer
    assert answer.count(b"<!doctype html>") == 1  # the GET's body only
    assert b'href="https://evil.example/p?a=1&amp;utm_source=x"' in answer
    assert b"<strong>evil.example</strong>" in answer
    assert len(services.clicks.visitors) == 1  # the GET; a HEAD counts no click


async def test_keep_alive_and_pipelined_requests_are_answered_in_order(served) -> None:
    server, services = served
    services.clicks.delay = 0.05  # the first answer takes longest
    pipelined = _get("/l/Abcd1234") + _get("/l/unknown1") + _get("/l/Abcd1234", "Connection: close")
    answer = await _exchange(server.port, pipelined, until_closed=True)
    statuses = re.findall(rb"HTTP/1\.1 (\d{3}) ", answer)
    assert statuses == [b"302", b"404", b"302"]
    assert b"Link not found" in answer
    assert answer.count(b"connection: close") == 1


async def test_links_not_in_memory_are_looked_up_in_order(served) -> None:
    server, services = served
    services.links_cache.state = "cold"
    pipelined = _get("/l/Abcd1234") + _get("/l/unknown1") + _get("/l/Abcd1234", "Connection: close")
    answer = await _exchange(server.port, pipelined, until_closed=True)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answer) == [b"302", b"404", b"302"]
    assert len(services.clicks.visitors) == 2


async def test_a_failed_lookup_is_a_503_and_the_connection_goes_on(served) -> None:
    server, services = served
    services.links_cache.state = "down"
    pipelined = _get("/l/Abcd1234") + _get("/l/x", "Connection: close")
    answer = await _exchange(server.port, pipelined, until_closed=True)
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answer) == [b"503", b"404"]
    assert b"content-type: application/problem+json\r\n" in answer
    assert b"retry-after: 1\r\n" in answer
    assert services.clicks.visitors == []


async def test_http_1_0_closes_after_its_answer(served) -> None:
    server, _ = served
    answer = await _exchange(server.port, _get("/l/Abcd1234", version="1.0"), until_closed=True)
    assert answer.startswith(b"HTTP/1.1 302 Found\r\n")
    assert b"connection: close" in answer


async def test_head_gets_headers_only_and_counts_no_click(served) -> None:
    server, services = served
    raw = _get("/l/unknown1").replace(b"GET", b"HEAD", 1)
    answer = await _exchange(
        server.port, raw + _get("/l/x", "Connection: close"), until_closed=True
    )
    assert answer.startswith(b"HTTP/1.1 404 Not Found\r\n")
    assert answer.count(b"<h1>Link not found</h1>") == 1  # the GET's body only
    head = _get("/l/Abcd1234").replace(b"GET", b"HEAD", 1)
    assert (await _exchange(server.port, head)).startswith(b"HTTP/1.1 302")
    assert services.clicks.visitors == []


async def test_other_methods_get_405_naming_the_method(served) -> None:
    server, _ = served
    raw = (
        b"POST /l/Abcd1234 HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{}"
    )
    answer = await _exchange(server.port, raw, until_closed=True)
    assert answer.startswith(b"HTTP/1.1 405 Method Not Allowed\r\n")
    assert b"allow: GET, HEAD" in answer and b'"detail":"method:' in answer


async def test_garbage_gets_400_and_the_connection_ends(served) -> None:
    server, _ = served
    answer = await _exchange(server.port, b"NOT HTTP AT ALL\r\n\r\n", until_closed=True)
    assert answer.startswith(b"HTTP/1.1 400 Bad Request\r\n")
    assert b"application/problem+json" in answer


async def test_oversized_headers_get_431(served) -> None:
    server, _ = served
    raw = _get("/l/Abcd1234", "X-Padding: " + "a" * 5000)
    answer = await _exchange(server.port, raw, until_closed=True)
    assert answer.startswith(b"HTTP/1.1 431 Request Header Fields Too Large\r\n")


async def test_many_small_pipelined_requests_in_one_read_are_not_one_large_head(served) -> None:
    server, _ = served
    pipelined = _get("/l/unknown1") * 59 + _get("/l/unknown1", "Connection: close")
    assert len(pipelined) > server.max_header_bytes  # each head is small, all of them are not
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    # The last head arrives in two reads: only its own bytes count against the cap.
    writer.write(pipelined[:-20])
    await writer.drain()
    await asyncio.sleep(0.1)
    writer.write(pipelined[-20:])
    answer = await asyncio.wait_for(reader.read(), 10)
    writer.close()
    assert re.findall(rb"HTTP/1\.1 (\d{3}) ", answer) == [b"404"] * 60


async def test_stalled_headers_and_idle_connections_are_closed(served) -> None:
    server, _ = served
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(b"GET /l/Abcd1234 HTTP/1.1\r\nHost: x\r\n")  # and never the rest
    answer = await asyncio.wait_for(reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 408 Request Timeout\r\n")
    assert b"connection: close" in answer and b'"detail":"request:' in answer
    writer.close()
    reader, writer = await asyncio.open_connection("127.0.0.1", server.port)
    writer.write(_get("/l/Abcd1234"))
    await reader.readuntil(b"\r\n\r\n")
    assert await asyncio.wait_for(reader.read(), 5) == b""  # idle after its answer
    writer.close()


async def test_forwarded_for_from_a_trusted_proxy_names_the_visitor(served) -> None:
    server, services = served
    for visitor in ("203.0.113.7", "198.51.100.9", "203.0.113.7"):
        await _exchange(server.port, _get("/l/Abcd1234", f"X-Forwarded-For: {visitor}"))
    first, second, third = services.clicks.visitors
    assert first == third != second


def test_the_visitor_is_the_nearest_untrusted_hop() -> None:
    proxies = proxy_networks(["10.0.0.0/8", "127.0.0.1"])
    assert client_address("10.1.2.3", "203.0.113.7, 10.9.9.9", proxies) == "203.0.113.7"
    # A client cannot pretend to be someone else by sending the header itself...
    assert client_address("10.1.2.3", "1.1.1.1, 203.0.113.7", proxies) == "203.0.113.7"
    # ...nor be believed at all when it is not behind one of our proxies.
    assert client_address("198.51.100.1", "203.0.113.7", proxies) == "198.51.100.1"
    assert client_address("10.1.2.3", None, proxies) == "10.1.2.3"


async def test_stopping_answers_the_clicks_under_way_then_closes(
    served: tuple[LinksServer, FakeServices],
) -> None:
    server, services = served
    services.clicks.delay = 0.3
    waiting_reader, waiting = await asyncio.open_connection("127.0.0.1", server.port)
    idle_reader, idle = await asyncio.open_connection("127.0.0.1", server.port)
    waiting.write(f"GET /l/Abcd1234 HTTP/1.1\r\nHost: x\r\nUser-Agent: {BROWSER}\r\n\r\n".encode())
    await waiting.drain()
    await asyncio.sleep(0.05)  # the click is being recorded

    await server.stop()

    # The click under way is answered, and its connection ends with the answer.
    answer = await asyncio.wait_for(waiting_reader.read(), 5)
    assert answer.startswith(b"HTTP/1.1 302 Found\r\n")
    assert b"connection: close\r\n" in answer
    assert services.clicks.visitors != []
    # The idle connection is closed without a word, and no new one is accepted.
    assert await asyncio.wait_for(idle_reader.read(), 5) == b""
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", server.port)
    waiting.close()
    idle.close()
