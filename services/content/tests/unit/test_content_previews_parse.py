"""Which addresses a link preview refuses, and what it reads from a page."""

from __future__ import annotations

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


@pytest.mark.parametrize("address", ["93.184.215.14", "2606:4700::6810:84e5"])
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
