"""Fetches a page for its link preview, refusing to be turned against our own network.

Every hop is resolved first and every address it resolves to must be public; the request
then goes to the address that was checked (with the original Host header and TLS server
name), so a DNS answer that changes between the check and the connection cannot slip an
internal address in. Redirects are followed by hand, each one checked again.

The page is read up to a size limit (after decompression, so a small gzip bomb stays small),
and parsed in a thread of the previewer's own with a time budget: the HTML parser is pure
Python and takes about a second per MB of hostile markup, which on the event loop would
stall every other request of the process.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import zlib
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import httpx

from content.domain.preview import ParseTooSlow, Preview, parse, refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]

_HTML_TYPES = ("text/html", "application/xhtml+xml")
# Only what we decode ourselves, bounded (httpx would inflate a whole chunk at once).
_ACCEPT_ENCODING = "gzip, deflate"
PARSE_BUDGET_SECONDS = 1.0


class PreviewRefused(ValueError):
    """The URL leads somewhere we do not fetch from."""


class PreviewFailed(ValueError):
    """The page could not be fetched or is not HTML."""


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


class LinkPreviewer:
    def __init__(
        self,
        *,
        timeout: float,
        max_bytes: int,
        max_redirects: int,
        allowed_hosts: frozenset[str] = frozenset(),
        resolver: Resolver = system_resolver,
        parse_budget_seconds: float = PARSE_BUDGET_SECONDS,
        parse_threads: int = 2,
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allowed_hosts = allowed_hosts
        self.resolver = resolver
        self.parse_budget_seconds = parse_budget_seconds
        # A pool of its own: many slow pages at once wait for these threads, and never take
        # the threads the rest of the api runs its blocking calls on.
        self._parser_pool = ThreadPoolExecutor(parse_threads, thread_name_prefix="preview-parse")

    async def preview(self, url: str) -> Preview:
        try:
            async with asyncio.timeout(self.timeout):
                return await self._fetch(url)
        except TimeoutError as exc:
            raise PreviewFailed(f"no complete answer within {self.timeout:g} s") from exc

    async def _fetch(self, url: str) -> Preview:
        async with httpx.AsyncClient(
            timeout=self.timeout,
            follow_redirects=False,
            # A proxy from the environment would connect on its own, past our address checks.
            trust_env=False,
        ) as client:
            try:
                current = httpx.URL(url)
            except httpx.InvalidURL as exc:
                raise PreviewRefused(f"not a URL we can fetch: {exc}") from exc
            for _ in range(self.max_redirects + 1):
                request = await self._pinned_request(client, current)
                try:
                    response = await client.send(request, stream=True)
                except httpx.HTTPError as exc:
                    raise PreviewFailed(f"{current.host}: {type(exc).__name__} {exc}") from exc
                try:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        if not location:
                            raise PreviewFailed(f"redirect without a location from {current}")
                        current = current.join(location)
                        continue
                    if response.status_code >= 400:
                        raise PreviewFailed(f"{current} answered {response.status_code}")
                    kind = response.headers.get("content-type", "").split(";")[0].strip().lower()
                    if kind not in _HTML_TYPES:
                        raise PreviewFailed(f"{current} is {kind or 'untyped'}, not an HTML page")
                    body = await self._read(response)
                    encoding = response.charset_encoding or "utf-8"
                finally:
                    await response.aclose()
                return await self._parse(body, encoding, str(current))
            raise PreviewFailed(f"more than {self.max_redirects} redirects")

    async def _parse(self, body: bytes, encoding: str, url: str) -> Preview:
        budget = self.parse_budget_seconds
        work = partial(_decode_and_parse, body, encoding, url, budget)
        try:
            # The budget is CPU time, checked inside the parse, which stops the thread; the
            # wall-clock limit on the whole preview (`preview`) bounds the wait for it.
            return await asyncio.get_running_loop().run_in_executor(self._parser_pool, work)
        except ParseTooSlow as exc:
            raise PreviewFailed("the page took too long to read") from exc

    async def _read(self, response: httpx.Response) -> bytes:
        # Only the head matters; a page larger than the limit is cut, never read whole.
        # The limit counts decoded bytes: a compressed page is inflated only up to it.
        coding = response.headers.get("content-encoding", "").strip().lower()
        decoder = _decoder(coding)
        if decoder is None:
            raise PreviewFailed(f"the page is encoded with {coding!r}, which is not supported")
        chunks: list[bytes] = []
        size = 0
        async for raw in response.aiter_raw():
            try:
                chunk = decoder(raw, self.max_bytes - size)
            except zlib.error as exc:
                raise PreviewFailed(f"the page's {coding} encoding is broken: {exc}") from exc
            chunks.append(chunk)
            size += len(chunk)
            if size >= self.max_bytes:
                break
        return b"".join(chunks)[: self.max_bytes]

    async def _pinned_request(self, client: httpx.AsyncClient, url: httpx.URL) -> httpx.Request:
        if url.scheme not in ("http", "https"):
            raise PreviewRefused(f"only http and https links are previewed, not {url.scheme}")
        host = url.host.lower().rstrip(".")
        if not host:
            raise PreviewRefused("the link has no host")
        port = url.port or (443 if url.scheme == "https" else 80)
        address = await self._checked_address(host, port)
        target = url.copy_with(host=address)
        headers = {
            # The original name, with its port when it is not the scheme's default.
            "Host": url.netloc.decode("ascii").rsplit("@", 1)[-1],
            "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1",
            "Accept-Encoding": _ACCEPT_ENCODING,
            "User-Agent": "ChorusLinkPreview/1.0",
        }
        extensions = {"sni_hostname": host} if url.scheme == "https" else {}
        return client.build_request("GET", target, headers=headers, extensions=extensions)

    async def _checked_address(self, host: str, port: int) -> str:
        allowed = host in self.allowed_hosts or f"{host}:{port}" in self.allowed_hosts
        try:
            addresses = [str(ipaddress.ip_address(host))]
        except ValueError:
            try:
                addresses = await self.resolver(host, port)
            except OSError as exc:
                raise PreviewFailed(f"{host} does not resolve: {exc}") from exc
        if not addresses:
            raise PreviewFailed(f"{host} does not resolve")
        if not allowed:
            for address in addresses:
                if reason := refusal(address):
                    shown = host if host == address else f"{host} ({address})"
                    raise PreviewRefused(f"{shown} is {reason}")
        return addresses[0]


Decoder = Callable[[bytes, int], bytes]


def _decoder(coding: str) -> Decoder | None:
    """What turns a raw chunk into at most `room` decoded bytes, for a Content-Encoding."""
    if coding in ("", "identity"):
        return lambda raw, room: raw[:room]
    if coding in ("gzip", "x-gzip"):
        inflate = zlib.decompressobj(16 + zlib.MAX_WBITS)
    elif coding == "deflate":
        # zlib-wrapped, as the standard says (32 + takes a gzip header as well).
        inflate = zlib.decompressobj(32 + zlib.MAX_WBITS)
    else:
        return None

    def decode(raw: bytes, room: int) -> bytes:
        # max_length: a chunk of a bomb never inflates past what is still wanted.
        return inflate.decompress(raw, max(room, 1))

    return decode


def _decode_and_parse(body: bytes, encoding: str, url: str, budget: float) -> Preview:
    try:
        html = body.decode(encoding, errors="replace")
    except LookupError:
        html = body.decode("utf-8", errors="replace")
    return parse(html, url, budget_seconds=budget)
