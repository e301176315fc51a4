"""Link previews: which addresses may be fetched, and what a page says about itself."""

from __future__ import annotations

import ipaddress
import time
from dataclasses import dataclass
from html.parser import HTMLParser
from urllib.parse import urljoin

# Open Graph and Twitter card tags live in the head: what lies past this many characters is
# never parsed (a page's head is rarely past 100 KB, scripts and styles included).
MAX_PARSED_CHARS = 256 * 1024
# Fed in steps this small so a budget is checked often: Python's HTML parser takes about
# 1 s per MB of pathological markup (a page of nothing but `<`).
_STEP = 8192

# Every block of IANA's special-purpose address registries (IPv4 and IPv6, checked against
# both as of 2025), whatever Python's `is_global` says of it: its answers change between
# patch releases (3.11.7 calls 192.0.0.100 global), and some blocks IANA marks globally
# reachable (anycast services, AS112, AMT) serve no page a preview should fetch either.
SPECIAL_PURPOSE: tuple[tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, str], ...] = tuple(
    (ipaddress.ip_network(block), name)
    for block, name in (
        ("0.0.0.0/8", "this network"),
        ("10.0.0.0/8", "private use"),
        ("100.64.0.0/10", "shared address space (carrier-grade NAT, used inside clouds)"),
        ("127.0.0.0/8", "loopback"),
        ("169.254.0.0/16", "link local"),
        ("172.16.0.0/12", "private use"),
        ("192.0.0.0/24", "IETF protocol assignments"),  # 192.0.0.0/29 ... .171 lie within
        ("192.0.2.0/24", "documentation"),
        ("192.31.196.0/24", "AS112"),
        ("192.52.193.0/24", "AMT"),
        ("192.88.99.0/24", "6to4 relay anycast"),
        ("192.168.0.0/16", "private use"),
        ("192.175.48.0/24", "AS112 direct delegation"),
        ("198.18.0.0/15", "benchmarking"),
        ("198.51.100.0/24", "documentation"),
        ("203.0.113.0/24", "documentation"),
        ("240.0.0.0/4", "reserved"),
        ("255.255.255.255/32", "limited broadcast"),
        ("::1/128", "loopback"),
        ("::/128", "unspecified"),
        ("::ffff:0:0/96", "IPv4-mapped"),
        ("64:ff9b::/96", "IPv4/IPv6 translation"),
        ("64:ff9b:1::/48", "local-use IPv4/IPv6 translation"),
        ("100::/64", "discard only"),
        ("100:0:0:1::/64", "dummy prefix"),
        ("2001::/23", "IETF protocol assignments"),  # Teredo, ORCHID, AMT, AS112, ... within
        ("2001:db8::/32", "documentation"),
        ("2002::/16", "6to4"),
        ("2620:4f:8000::/48", "AS112 direct delegation"),
        ("3fff::/20", "documentation"),
        ("5f00::/16", "segment routing (SRv6) SIDs"),
        ("fc00::/7", "unique local"),
        ("fe80::/10", "link local"),
        # Not in the registry, no more public for that.
        ("fec0::/10", "site local (deprecated)"),
        ("fd00:ec2::254/128", "AWS metadata over IPv6"),
    )
)


def refusal(address: str) -> str | None:
    """Why fetching from `address` is refused (loopback, private, ...), or None."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return "not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        # ::ffff:127.0.0.1 reaches 127.0.0.1: judged by the IPv4 inside.
        return refusal(str(ip.ipv4_mapped))
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
    for network, name in SPECIAL_PURPOSE:
        if ip in network:
            return f"a special-purpose address ({name})"
    if not ip.is_global:
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


class ParseTooSlow(ValueError):
    """The page took longer to read than its budget."""


def parse(
    html: str,
    page_url: str,
    limit: int = 2000,
    *,
    budget_seconds: float | None = None,
    max_chars: int = MAX_PARSED_CHARS,
) -> Preview:
    """OpenGraph first, then Twitter card, then the plain title and description.

    Reads at most `max_chars` characters, and raises ParseTooSlow once the parse has taken
    `budget_seconds` of its thread's CPU time: a budget of work done, which a busy machine
    does not use up while the thread waits for a core or for the GIL."""
    deadline = None if budget_seconds is None else time.thread_time() + budget_seconds
    parser = _MetaParser()
    html = html[:max_chars]
    for start in range(0, len(html), _STEP):
        parser.feed(html[start : start + _STEP])
        if parser.done:
            break
        if deadline is not None and time.thread_time() > deadline:
            raise ParseTooSlow(f"the page took longer than {budget_seconds:g} s to read")
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
