"""Pure rules of the web app: where a form may send you back, networks in the share panel."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contracts.events import Network
from web.adapters.oidc import renew_time
from web.domain import networks
from web.entrypoints.common import safe_next


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/impact", "/impact"),
        ("/feed?kind=job", "/feed?kind=job"),
        ("", "/feed"),
        (None, "/feed"),
        ("https://evil.example/", "/feed"),
        ("//evil.example/x", "/feed"),
        ("/\\evil.example", "/feed"),
        ("javascript:alert(1)", "/feed"),
        ("feed", "/feed"),
    ],
)
def test_only_paths_of_this_site_are_followed(target: str | None, expected: str) -> None:
    assert safe_next(target) == expected


def test_my_networks_come_first_in_the_default_order() -> None:
    order = networks.ordered(["x", "whatsapp"])
    assert order[:2] == [Network.X, Network.WHATSAPP]
    assert order[2] == Network.LINKEDIN
    assert len(order) == len(networks.DEFAULT_ORDER)


def test_choices_carry_the_suggested_text_or_the_title() -> None:
    choices = networks.choices(
        {"linkedin": {"audience_size": 10, "direct_posting": True}},
        {"x": "Short one"},
        "The title",
    )
    linkedin = next(c for c in choices if c.network is Network.LINKEDIN)
    x = next(c for c in choices if c.network is Network.X)
    assert linkedin.connected and linkedin.direct_posting and linkedin.link_only
    assert linkedin.text == "The title" and x.text == "Short one"
    assert x.limit == 280 and not x.connected


def test_x_counts_links_as_23() -> None:
    text = "Look " + "https://example.com/" + "a" * 200
    assert networks.too_long(Network.X, text) is None
    assert networks.too_long(Network.X, "a" * 281) == (281, 280)
    assert networks.too_long(Network.LINKEDIN, "a" * 3000) is None


@pytest.mark.parametrize(
    ("issued", "expires", "renew_at"),
    [
        (1_000, 1_300, 1_270),  # five minutes: 30 s before it expires
        (1_000, 1_060, 1_040),  # a minute: after two thirds of it
        (1_000, 10**18, 1_000 + 86_400),  # past the last date there is: within a day
        (10**18, 1_300, 1_270),  # issued after it expires: 30 s before it expires
    ],
)
def test_an_access_token_is_renewed_before_it_expires_and_at_least_daily(
    issued: int, expires: int, renew_at: int
) -> None:
    at = renew_time(expires, issued, now=1_000)
    assert at == renew_at
    datetime.fromtimestamp(at, UTC)  # a time a session can store
