"""Which links a short link may redirect to: the one domain rule of every service.

A tenant lists the domains its short links may lead to without a stop; a domain admits
itself and its subdomains (`linkedin.com` admits `www.linkedin.com`, not
`evillinkedin.com`). Domains and hosts compare in their ASCII form (IDNA: `bücher.example`
is `xn--bcher-kva.example`), case and a trailing dot aside. Only the host counts: the
port and the path do not, and a userinfo part is not the host
(`https://linkedin.com@evil.example/` leads to `evil.example`). An address that is not a
plain http(s) address of a named host (an IP address, a backslash, whitespace) is on no
list.

Share applies the rule to own posts when they are shared (their short links then show a
page saying where they lead); the web app to tell the person before they share. Pure
functions.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from urllib.parse import urlsplit

# Without a list of its own, a tenant's short links lead straight to the networks people
# share on (and their link shorteners); everything else gets the stop page.
DEFAULT_LINK_DOMAINS: tuple[str, ...] = (
    "facebook.com",
    "instagram.com",
    "linkedin.com",
    "lnkd.in",
    "twitter.com",
    "x.com",
    "xing.com",
    "youtu.be",
    "youtube.com",
)
MAX_LINK_DOMAINS = 200

_LABEL = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)$")
_UNSAFE = re.compile(r"[\\\s\x00-\x1f\x7f]")


def ascii_host(name: str) -> str | None:
    """A host name in its compared form (lower case ASCII, no trailing dot), or None when
    it is not a name of at least two labels with a non-numeric top level."""
    name = name.strip().rstrip(".")
    if not name or _UNSAFE.search(name):
        return None
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None
    labels = ascii_name.split(".")
    if len(ascii_name) > 253 or len(labels) < 2 or labels[-1].isdigit():
        return None
    if not all(_LABEL.fullmatch(label) for label in labels):
        return None
    return ascii_name


def normalise_domain(raw: str) -> str | None:
    """A domain as a person typed it (`LinkedIn.com`, `bücher.example`), in its compared
    form; None when it is not a bare domain (a scheme, a path, a port, a wildcard)."""
    return ascii_host(raw)


def link_host(url: str) -> str | None:
    """The host a browser following `url` reaches, in its compared form; None when `url` is
    not a plain http(s) address of a named host."""
    if _UNSAFE.search(url):
        return None
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 (raises on a malformed port)
    except ValueError:
        return None
    if parts.scheme.lower() not in ("http", "https") or not host:
        return None
    return ascii_host(host)


def on_domains(url: str, domains: Iterable[str]) -> bool:
    """Whether `url` leads to one of `domains` (compared forms) or a subdomain of one."""
    host = link_host(url)
    if host is None:
        return False
    return any(host == domain or host.endswith("." + domain) for domain in domains)
