"""The links listener: short links on a port of their own, served straight off the socket.

Every click on a shared link lands here, at rates no other endpoint sees. An ASGI server
costs several times what the click itself costs (request and message objects, a task per
request, the middleware chain), so this listener speaks HTTP/1.1 itself, with the parser
uvicorn uses (httptools), and answers only what a short link needs: GET and HEAD of
`/l/{code}`. It runs in the api process, beside uvicorn, and shares its state.

HTTP as clients and proxies use it: keep-alive, pipelined requests answered in order,
HTTP/1.0, `Connection: close`. `X-Forwarded-For` is believed only from `trusted_proxies`,
taking the nearest address that is not one of them.

Limits, because this port faces the whole internet and httptools itself bounds nothing:
- A request's head (request line and headers) may hold `max_header_bytes` and
  `max_headers` headers; past either it gets 431 and the connection ends. httptools hands
  over a header only once it is complete, piecing a long one together chunk by chunk at a
  cost that grows with the square of its length, so the bytes are counted as they arrive,
  not as headers: the head is cut off after at most the cap plus one read.
- A request must be complete within `header_timeout` of its first byte (else 408 and
  close); a connection with no request under way closes after `idle_timeout` without a
  word. Only requests and answers count as activity: the bare CRLFs a parser skips
  between requests do not keep a connection open.
- At most `max_connections` connections per process; beyond that a new one is closed at
  once, before anything is read, and counted in `chorus_share_links_refused_total`.
Unparsable requests get 400.
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import deque
from collections.abc import Iterable, Sequence
from typing import cast
from urllib.parse import unquote

import httptools
from prometheus_client import Counter

from share.config import ShareSettings
from share.entrypoints.redirect import Answer, begin
from share.service_layer.handlers import Services

log = logging.getLogger(__name__)

REFUSED = Counter(
    "chorus_share_links_refused_total",
    "Connections the links listener ended at one of its limits, by limit",
    ["limit"],
)
_REFUSED_CONNECTIONS = REFUSED.labels("connections")
_REFUSED_HEADERS = REFUSED.labels("headers")
_REFUSED_TIMEOUT = REFUSED.labels("header_timeout")

_REASONS = {
    200: b"OK",
    302: b"Found",
    400: b"Bad Request",
    404: b"Not Found",
    405: b"Method Not Allowed",
    408: b"Request Timeout",
    431: b"Request Header Fields Too Large",
    503: b"Service Unavailable",
}
_PROBLEM = (b"content-type", b"application/problem+json")
_BAD_REQUEST = Answer(
    400,
    [_PROBLEM],
    b'{"type":"about:blank","title":"Bad Request","status":400,'
    b'"detail":"request: not a valid HTTP/1.1 request"}',
)
_TOO_LARGE = Answer(
    431,
    [_PROBLEM],
    b'{"type":"about:blank","title":"Request Header Fields Too Large","status":431,'
    b'"detail":"headers: larger than this server accepts"}',
)
_TIMED_OUT = Answer(
    408,
    [_PROBLEM],
    b'{"type":"about:blank","title":"Request Timeout","status":408,'
    b'"detail":"request: not complete within the time this server waits"}',
)

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(entries: Iterable[str]) -> list[Network]:
    """`("10.0.0.0/8", "127.0.0.1")` -> networks; a bare address is a network of one."""
    return [ipaddress.ip_network(entry, strict=False) for entry in entries]


def is_trusted(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in network for network in networks)


def client_address(peer: str, forwarded_for: str | None, networks: Sequence[Network]) -> str:
    """The visitor's address: the peer, or behind trusted proxies the nearest untrusted hop."""
    if forwarded_for is None or not is_trusted(peer, networks):
        return peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    for hop in reversed(hops):
        if not is_trusted(hop, networks):
            return hop
    return hops[0] if hops else peer


class LinksServer:
    def __init__(
        self,
        services: Services,
        host: str,
        port: int,
        *,
        trusted_proxies: Sequence[Network] = (),
        idle_timeout: float = 75.0,
        header_timeout: float = 10.0,
        max_header_bytes: int = 16 * 1024,
        max_headers: int = 100,
        max_connections: int = 10_000,
        max_pipelined: int = 32,
    ) -> None:
        self.services = services
        self.host = host
        self.port = port
        self.trusted_proxies = list(trusted_proxies)
        self.idle_timeout = idle_timeout
        self.header_timeout = header_timeout
        self.max_header_bytes = max_header_bytes
        self.max_headers = max_headers
        self.max_connections = max_connections
        self.max_pipelined = max_pipelined
        self.connections: set[_Connection] = set()
        # Stopping: answers end their connection, so no client sends another request here.
        self.stopping = False
        self._server: asyncio.Server | None = None
        self._sweeper: asyncio.Task[None] | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(
            lambda: _Connection(self),
            self.host,
            self.port,
            backlog=2048,
            # Several processes may share the port, the kernel spreading connections.
            reuse_port=True,
        )
        self._sweeper = asyncio.create_task(self._sweep())
        log.info("links listener started", extra={"port": self.port})

    async def stop(self, grace: float = 5.0) -> None:
        """Stop accepting, answer the requests under way (clicks waiting for Kafka) within
        `grace` seconds, each with `connection: close`, and close every connection."""
        if self._sweeper is not None:
            self._sweeper.cancel()
        if self._server is None:
            return
        self._server.close()
        self.stopping = True
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while True:
            for connection in list(self.connections):
                connection.close_when_idle()
            if not self.connections or loop.time() >= deadline:
                break
            await asyncio.sleep(0.05)
        for connection in list(self.connections):
            connection.close_now()
        await self._server.wait_closed()

    async def _sweep(self) -> None:
        """Close connections that stall a request's headers or sit idle too long."""
        loop = asyncio.get_running_loop()
        # Often enough that a connection outlives its timeout by half of it at most.
        interval = min(1.0, self.header_timeout / 2, self.idle_timeout / 2)
        while True:
            await asyncio.sleep(interval)
            now = loop.time()
            for connection in list(self.connections):
                connection.check_timeouts(now)


class _Connection(asyncio.Protocol):
    def __init__(self, server: LinksServer) -> None:
        self.server = server
        self.loop = asyncio.get_running_loop()
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.peer = ""
        self.trusted_peer = False
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        # The URL and complete headers of the request under way, as the parser hands them over.
        self.header_bytes = 0
        # Between a request's first byte and the end of its headers...
        self.in_head = False
        # ...the bytes read for that head so far, counted per read (the parser's own
        # callbacks see a header only once it is whole).
        self.head_bytes = 0
        # A head or a request ended inside the read being parsed: the head under way after
        # it holds an unknown part of that read, at most one read's worth.
        self.boundary_in_read = False
        # From a request's first byte until it is complete; None between requests.
        self.request_started: float | None = None
        # The connection's last answer (or its opening): what idleness is measured from.
        self.last_active = self.loop.time()
        self.queue: deque[tuple[str, bytes, list[tuple[bytes, bytes]], bool]] = deque()
        # Waiting for an answer (a click's acknowledgement, a lookup).
        self.busy = False
        # An error to answer once the answers already owed are out; then the connection ends.
        self.refusal: Answer | None = None
        self.closing = False
        self.reading_paused = False
        self.writing_paused = False

    # -- transport events ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self.transport = cast(asyncio.Transport, transport)
        if len(self.server.connections) >= self.server.max_connections:
            # Each connection costs memory and a descriptor; past the cap they would be
            # taken from the clicks already being answered.
            _REFUSED_CONNECTIONS.inc()
            self._close()
            return
        peer = transport.get_extra_info("peername")
        self.peer = str(peer[0]) if peer else ""
        self.trusted_peer = is_trusted(self.peer, self.server.trusted_proxies)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closing = True
        self.server.connections.discard(self)

    def data_received(self, data: bytes) -> None:
        # Not activity by itself: bytes that start no request (bare CRLFs) must not keep
        # an idle connection open, and a request under way has its own deadline.
        if self.closing or self.refusal is not None:
            return
        self.boundary_in_read = False
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # No protocol upgrades here; the request that asked has been queued already.
            self._refuse(_BAD_REQUEST)
            return
        except httptools.HttpParserError:
            self._refuse(_BAD_REQUEST)
            return
        if self.in_head and not self.boundary_in_read:
            self.head_bytes += len(data)
            if self.head_bytes > self.server.max_header_bytes:
                self._refuse_headers()

    def pause_writing(self) -> None:
        # The client is not reading its answers: stop reading its requests until it does.
        self.writing_paused = True
        self._pause_reading()

    def resume_writing(self) -> None:
        self.writing_paused = False
        if len(self.queue) < self.server.max_pipelined:
            self._resume_reading()

    # -- parser callbacks ---------------------------------------------------------------

    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.header_bytes = 0
        self.in_head = True
        # The bytes before it in this read (CRLFs) are counted too, as if part of the head.
        self.head_bytes = 0
        self.request_started = self.loop.time()

    def on_url(self, url: bytes) -> None:
        self.url += url
        self._count_header_bytes(len(url))

    def on_header(self, name: bytes, value: bytes) -> None:
        if self.refusal is not None:
            return
        self.headers.append((name.lower(), value))
        self._count_header_bytes(len(name) + len(value))
        if len(self.headers) > self.server.max_headers:
            self._refuse_headers()

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.boundary_in_read = True

    def on_message_complete(self) -> None:
        self.boundary_in_read = True
        if self.closing or self.refusal is not None:
            return
        self.request_started = None
        method = self.parser.get_method().decode("ascii", "replace")
        self.queue.append((method, self.url, self.headers, self.parser.should_keep_alive()))
        if len(self.queue) >= self.server.max_pipelined:
            self._pause_reading()
        if not self.busy:
            self._serve()

    # -- answering ----------------------------------------------------------------------

    def _serve(self) -> None:
        """Answer queued requests in order; one that must wait resumes this when replied.

        No task per request: most answers are ready at once, and a click waits only for
        Kafka's acknowledgement, whose callback writes the answer.
        """
        while self.queue and not self.closing:
            method, url, headers, keep_alive = self.queue[0]
            self.busy = True
            result = self._begin(method, url, headers)
            if result is None:
                return
            self.queue.popleft()
            if not self._respond(result, method, keep_alive):
                self.busy = False
                return
        self.busy = False
        if self.refusal is not None and not self.closing:
            self._write(self.refusal, "GET", keep_alive=False)
            self._close()

    def _reply(self, result: Answer) -> None:
        if not self.busy or not self.queue:
            return  # no request waits for an answer: nothing to pair it with
        method, _, _, keep_alive = self.queue.popleft()
        if self._respond(result, method, keep_alive):
            self._serve()
        else:
            self.busy = False

    def _respond(self, result: Answer, method: str, keep_alive: bool) -> bool:
        """Write the answer; False when the connection ends with it."""
        keep_alive = keep_alive and not self.server.stopping
        self._write(result, method, keep_alive)
        if not keep_alive:
            self._close()
            return False
        if len(self.queue) < self.server.max_pipelined and not self.writing_paused:
            self._resume_reading()
        return not self.closing

    def _begin(self, method: str, url: bytes, headers: list[tuple[bytes, bytes]]) -> Answer | None:
        try:
            path = unquote(httptools.parse_url(url).path.decode("latin-1"))
        except httptools.HttpParserInvalidURLError:
            return _BAD_REQUEST
        client = self.peer
        if self.trusted_peer:
            forwarded = next((v for n, v in headers if n == b"x-forwarded-for"), None)
            if forwarded is not None:
                client = client_address(
                    self.peer, forwarded.decode("latin-1"), self.server.trusted_proxies
                )
        return begin(self.server.services, method, path, headers, client, self._reply)

    def _write(self, result: Answer, method: str, keep_alive: bool) -> None:
        if self.transport is None or self.closing:
            return
        form = (keep_alive, method == "HEAD")
        wire = result.wire.get(form)
        if wire is None:
            wire = result.wire[form] = _encode(result, *form)
        self.transport.write(wire)
        self.last_active = self.loop.time()

    # -- limits and closing -------------------------------------------------------------

    def _count_header_bytes(self, size: int) -> None:
        self.header_bytes += size
        if self.header_bytes > self.server.max_header_bytes:
            self._refuse_headers()

    def _refuse_headers(self) -> None:
        if not self.closing and self.refusal is None:
            _REFUSED_HEADERS.inc()
            self._refuse(_TOO_LARGE)

    def _refuse(self, result: Answer) -> None:
        """Answer with an error once the answers already owed are out, then close."""
        if self.closing or self.refusal is not None:
            return
        self.refusal = result
        self._pause_reading()
        if not self.busy:
            self._write(result, "GET", keep_alive=False)
            self._close()

    def check_timeouts(self, now: float) -> None:
        if self.busy or self.closing:
            return  # an answer is owed: the client is waiting on us, not we on it
        if self.request_started is not None:
            if now - self.request_started > self.server.header_timeout:
                _REFUSED_TIMEOUT.inc()
                self._refuse(_TIMED_OUT)
        elif now - self.last_active > self.server.idle_timeout:
            self._close()

    def close_when_idle(self) -> None:
        if not self.busy and not self.queue:
            self._close()

    def close_now(self) -> None:
        self._close()

    def _close(self) -> None:
        self.closing = True
        if self.transport is not None:
            self.transport.close()

    def _pause_reading(self) -> None:
        if not self.reading_paused and self.transport is not None:
            self.reading_paused = True
            self.transport.pause_reading()

    def _resume_reading(self) -> None:
        if self.reading_paused and self.transport is not None and not self.closing:
            self.reading_paused = False
            self.transport.resume_reading()


def _encode(result: Answer, keep_alive: bool, head: bool) -> bytes:
    lines = [b"HTTP/1.1 %d %s\r\n" % (result.status, _REASONS.get(result.status, b""))]
    lines.extend(b"%s: %s\r\n" % header for header in result.headers)
    lines.append(b"content-length: %d\r\n" % len(result.body))
    if not keep_alive:
        lines.append(b"connection: close\r\n")
    lines.append(b"\r\n")
    if not head:
        lines.append(result.body)
    return b"".join(lines)


def links_server(services: Services, settings: ShareSettings) -> LinksServer:
    return LinksServer(
        services,
        settings.host,
        settings.links_port,
        trusted_proxies=proxy_networks(settings.trusted_proxies),
        idle_timeout=settings.links_idle_timeout_seconds,
        header_timeout=settings.links_header_timeout_seconds,
        max_header_bytes=settings.links_max_header_bytes,
        max_headers=settings.links_max_headers,
        max_connections=settings.links_max_connections,
    )
