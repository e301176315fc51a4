"""Fetches a page for its link preview, refusing to be turned against our own network.

Every hop is resolved first and every address it resolves to must be public; the request
then goes to the address that was checked (with the original Host header and TLS server
name), so a DNS answer that changes between the check and the connection cannot slip an
internal address in. Redirects are followed by hand, each one checked again.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Awaitable, Callable

import httpx

from content.domain.preview import Preview, parse, refusal

Resolver = Callable[[str, int], Awaitable[list[str]]]

_HTML_TYPES = ("text/html", "application/xhtml+xml")


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
    ) -> None:
        self.timeout = timeout
        self.max_bytes = max_bytes
        self.max_redirects = max_redirects
        self.allowed_hosts = allowed_hosts
        self.resolver = resolver

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
            current = httpx.URL(url)
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
                try:
                    html = body.decode(encoding, errors="replace")
                except LookupError:
                    html = body.decode("utf-8", errors="replace")
                return parse(html, str(current))
            raise PreviewFailed(f"more than {self.max_redirects} redirects")

    async def _read(self, response: httpx.Response) -> bytes:
        # Only the head matters; a page larger than the limit is cut, never read whole.
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_raw():
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
