"""Which addresses a link preview refuses, and what it reads from a page."""

from __future__ import annotations

import ipaddress

import pytest

from content.domain.preview import parse, refusal


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "127.8.9.10",
        "::1",
        "10.0.0.1",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "fe80::1",
        "fc00::1",
        "fd00:ec2::254",
        "0.0.0.0",
        "::",
        "100.64.0.1",
        "::ffff:127.0.0.1",
        "224.0.0.1",
    ],
)
def test_internal_addresses_are_refused(address) -> None:
    assert refusal(address)


# Every block of IANA's special-purpose address registries (IPv4 and IPv6, as of 2025),
# written out here apart from the code: an address of each, and the block's last address.
# Also those IANA marks globally reachable (anycast, AS112, AMT): none of them serves pages.
IANA_SPECIAL_PURPOSE = [
    ("0.0.0.0/8", "0.1.2.3"),
    ("10.0.0.0/8", "10.1.2.3"),
    ("100.64.0.0/10", "100.100.100.200"),
    ("127.0.0.0/8", "127.1.2.3"),
    ("169.254.0.0/16", "169.254.1.2"),
    ("172.16.0.0/12", "172.31.1.2"),
    ("192.0.0.0/24", "192.0.0.100"),
    ("192.0.0.0/29", "192.0.0.1"),
    ("192.0.0.8/32", "192.0.0.8"),
    ("192.0.0.9/32", "192.0.0.9"),
    ("192.0.0.10/32", "192.0.0.10"),
    ("192.0.0.170/32", "192.0.0.170"),
    ("192.0.0.171/32", "192.0.0.171"),
    ("192.0.2.0/24", "192.0.2.10"),
    ("192.31.196.0/24", "192.31.196.1"),
    ("192.52.193.0/24", "192.52.193.1"),
    ("192.88.99.0/24", "192.88.99.1"),
    ("192.168.0.0/16", "192.168.1.2"),
    ("192.175.48.0/24", "192.175.48.1"),
    ("198.18.0.0/15", "198.19.1.2"),
    ("198.51.100.0/24", "198.51.100.7"),
    ("203.0.113.0/24", "203.0.113.7"),
    ("240.0.0.0/4", "250.1.2.3"),
    ("255.255.255.255/32", "255.255.255.255"),
    ("::1/128", "::1"),
    ("::/128", "::"),
    ("::ffff:0:0/96", "::ffff:10.0.0.1"),
    ("64:ff9b::/96", "64:ff9b::a9fe:a9fe"),
    ("64:ff9b::/96", "64:ff9b::808:808"),
    ("64:ff9b:1::/48", "64:ff9b:1::1"),
    ("100::/64", "100::1"),
    ("100:0:0:1::/64", "100:0:0:1::1"),
    ("2001::/23", "2001:1ff::1"),
    ("2001::/32", "2001:0:4136:e378::1"),
    ("2001:1::1/128", "2001:1::1"),
    ("2001:1::2/128", "2001:1::2"),
    ("2001:1::3/128", "2001:1::3"),
    ("2001:2::/48", "2001:2::1"),
    ("2001:3::/32", "2001:3::1"),
    ("2001:4:112::/48", "2001:4:112::1"),
    ("2001:10::/28", "2001:10::1"),
    ("2001:20::/28", "2001:20::1"),
    ("2001:30::/28", "2001:30::1"),
    ("2001:db8::/32", "2001:db8::1"),
    ("2002::/16", "2002:5db8:d70e::1"),
    ("2620:4f:8000::/48", "2620:4f:8000::1"),
    ("3fff::/20", "3fff::1"),
    ("5f00::/16", "5f00::1"),
    ("fc00::/7", "fd12:3456::1"),
    ("fe80::/10", "fe80::1"),
    # Not in the registry, but no more public: deprecated site-local, and multicast.
    ("fec0::/10", "fec0::1"),
    ("ff00::/8", "ff02::1"),
]


@pytest.mark.parametrize(("block", "address"), IANA_SPECIAL_PURPOSE)
def test_every_special_purpose_block_is_refused(block, address) -> None:
    network = ipaddress.ip_network(block)
    assert ipaddress.ip_address(address) in network
    assert refusal(address), address
    assert refusal(str(network[-1])), network[-1]


@pytest.mark.parametrize(
    "address",
    [
        "93.184.215.14",
        "2606:4700::6810:84e5",
        # Just outside special blocks.
        "192.0.1.1",
        "192.0.3.1",
        "100.128.0.1",
        "198.20.0.1",
        "2001:200::1",
        "2620:4f:8001::1",
        "2a00:1450:4001::1",
    ],
)
def test_public_addresses_pass(address) -> None:
    assert refusal(address) is None


def test_open_graph_wins_over_twitter_and_plain_tags() -> None:
    html = """<html><head><title> Plain </title>
    <meta name="description" content="plain description">
    <meta name="twitter:title" content="Card title">
    <meta property="og:title" content="OG   title">
    <meta property="og:image" content="../img/a.png">
    </head><body><meta property="og:description" content="too late"></body></html>"""
    found = parse(html, "https://example.com/news/item")
    assert found.title == "OG title"
    assert found.description == "plain description"
    assert found.image_url == "https://example.com/img/a.png"


def test_falls_back_to_the_title_and_drops_odd_image_schemes() -> None:
    found = parse(
        "<title>Only a title</title><meta property='og:image' content='javascript:x'>",
        "https://example.com/",
    )
    assert found.title == "Only a title" and found.image_url is None
