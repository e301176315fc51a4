"""Link previews: which addresses may be fetched, and what a page says about itself."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

# Addresses `is_global` lets through that still lead inside a network or a cloud host.
_EXTRA_BLOCKED = (
    ipaddress.ip_network("100.64.0.0/10"),  # carrier-grade NAT, used inside clouds
    ipaddress.ip_network("fd00:ec2::254/128"),  # AWS metadata over IPv6
)


def refusal(address: str) -> str | None:
    """Why fetching from `address` is refused (loopback, private, ...), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address):
        # ::ffff:127.0.0.1 and 64:ff9b::/96 style wrappers are judged by the IPv4 inside.
        inner = ip.ipv4_mapped or ip.sixtofour
        if inner is not None:
            return refusal(str(inner))
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_unspecified or ip.is_multicast:
        return "not a public unicast address"
    if ip.is_link_local:
        # 169.254.169.254 is where cloud instances find their credentials.
        return "a link-local address (cloud metadata lives there)"
    if ip.is_private:
        return "a private address"
    if ip.is_reserved:
        return "a reserved address"
    if any(ip in net for net in _EXTRA_BLOCKED) or not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True)
class Preview:
    url: str
    title: str | None
    description: str | None
    image_url: str | None
    site_name: str | None


class _MetaParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, str] = {}
        self.title = ""
        self._in_title = False
        self.done = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if self.done:
            return
        if tag == "meta":
            values = {k.lower(): v for k, v in attrs if v is not None}
            key = (values.get("property") or values.get("name") or "").lower().strip()
            content = values.get("content", "").strip()
            if key and content and key not in self.meta:
                self.meta[key] = content
        elif tag == "title":
            self._in_title = True
        elif tag == "body":
            # Everything a preview needs is in the head; stop reading at the body.
            self.done = True

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        elif tag == "head":
            self.done = True

    def handle_data(self, data: str) -> None:
        if self._in_title and not self.done and len(self.title) < 1000:
            self.title += data


def parse(html: str, page_url: str, limit: int = 2000) -> Preview:
    """OpenGraph first, then Twitter card, then the plain title and description."""
    parser = _MetaParser()
    for start in range(0, len(html), 65536):
        parser.feed(html[start : start + 65536])
        if parser.done:
            break
    meta = parser.meta

    def first(*keys: str) -> str | None:
        for key in keys:
            value = meta.get(key)
            if value:
                return " ".join(value.split())[:limit]
        return None

    title = first("og:title", "twitter:title") or (" ".join(parser.title.split())[:limit] or None)
    image = first("og:image:secure_url", "og:image", "og:image:url", "twitter:image")
    image_url = urljoin(page_url, image) if image else None
    if image_url is not None and not image_url.startswith(("http://", "https://")):
        image_url = None
    return Preview(
        url=page_url,
        title=title,
        description=first("og:description", "twitter:description", "description"),
        image_url=image_url,
        site_name=first("og:site_name"),
    )
