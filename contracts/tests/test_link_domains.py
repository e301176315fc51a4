"""The link-domain rule, from a table: what a short link may redirect to straight away."""

from __future__ import annotations

import pytest

from contracts.link_domains import DEFAULT_LINK_DOMAINS, link_host, normalise_domain, on_domains

LISTED = ["linkedin.com", "xn--bcher-kva.example", "example.org"]


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("https://linkedin.com/in/someone", True),
        ("https://www.linkedin.com/posts/1", True),  # a subdomain
        ("https://a.b.linkedin.com/", True),
        ("https://WWW.LinkedIn.COM/Path", True),  # case
        ("https://linkedin.com./", True),  # the root's trailing dot
        ("http://linkedin.com/", True),
        ("https://linkedin.com:8443/x", True),  # a port: the same host
        ("https://evillinkedin.com/", False),  # not a subdomain
        ("https://linkedin.com.evil.example/", False),
        ("https://linkedin.co/", False),
        ("https://linkedin.com@evil.example/", False),  # userinfo is not the host
        ("https://user:pw@www.linkedin.com/", True),
        ("https://evil.example\\@linkedin.com/", False),  # browsers read \ as /
        ("https://evil.example/?u=https://linkedin.com/", False),
        ("https://evil.example/#linkedin.com", False),
        ("https://bücher.example/", True),  # IDN, compared as punycode
        ("https://BÜCHER.example/", True),
        ("https://xn--bcher-kva.example/", True),
        ("https://shop.xn--bcher-kva.example/", True),
        ("https://bucher.example/", False),
        ("https://1.2.3.4/", False),  # addresses are never on a list
        ("https://[::1]/", False),
        ("javascript://linkedin.com/%0aalert(1)", False),
        ("ftp://linkedin.com/", False),
        ("//linkedin.com/", False),
        ("https://linkedin.com:99999/", False),  # a malformed port
        ("https:// linkedin.com/", False),
        ("", False),
    ],
)
def test_a_link_is_on_the_list_by_its_host(url: str, allowed: bool) -> None:
    assert on_domains(url, LISTED) is allowed


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("linkedin.com", "linkedin.com"),
        (" LinkedIn.COM ", "linkedin.com"),
        ("linkedin.com.", "linkedin.com"),
        ("Bücher.example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("co.uk", "co.uk"),
        ("https://linkedin.com", None),
        ("linkedin.com/path", None),
        ("linkedin.com:443", None),
        ("user@linkedin.com", None),
        ("*.linkedin.com", None),
        ("localhost", None),
        ("1.2.3.4", None),
        ("bad_name.com", None),
        ("-bad.com", None),
        ("a..com", None),
        ("", None),
        ("a" * 64 + ".com", None),
    ],
)
def test_a_typed_domain_is_stored_in_its_compared_form(typed: str, stored: str | None) -> None:
    assert normalise_domain(typed) == stored


def test_the_default_list_is_of_valid_domains() -> None:
    assert all(normalise_domain(d) == d for d in DEFAULT_LINK_DOMAINS)
    assert on_domains("https://www.linkedin.com/feed/", DEFAULT_LINK_DOMAINS)
    assert not on_domains("https://example.com/", DEFAULT_LINK_DOMAINS)


def test_the_host_is_what_a_browser_reaches() -> None:
    assert link_host("https://linkedin.com@evil.example:8080/x") == "evil.example"
