"""Pure rules of sharing: links, intents, targeting, bots, visitors, signatures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest

from contracts.audience import Audience, Viewer
from share.domain.advocates import Advocate, AdvocateStatus, cannot_share_as
from share.domain.clicks import (
    advocate_cookie,
    cookie_advocate,
    daily_salt,
    is_bot,
    is_unique,
    visitor_hash,
)
from share.domain.connectors import connector_secret
from share.domain.content import ContentItem, Guidelines
from share.domain.links import cannot_share, share_intent, targeted, with_utm
from share.domain.signatures import sign, signature_problem

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
LINK = "https://go.example.com/l/Ab3dE5gH"
EVERYONE = Viewer(frozenset(), None, ())

# A few of each; the redirect tests send the long lists through the real endpoint.
BOTS = [
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.23.20.0 A",
    "SomeCompany Crawler/2.1",
    "ExampleSpider/0.9 (+https://example.org/spider)",
    "Mozilla/4.0 (compatible; ms-office; MSOffice 16)",
    "Mozilla/5.0 (compatible; Google-InspectionTool/1.0)",
    "",
]
BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.7",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
]


def test_bots_and_link_previews_are_recognised() -> None:
    assert [ua for ua in BOTS if not is_bot(ua)] == []


def test_browsers_are_people() -> None:
    assert [ua for ua in BROWSERS if is_bot(ua)] == []


@pytest.mark.parametrize(
    ("network", "expected"),
    [
        (
            "linkedin",
            "https://www.linkedin.com/sharing/share-offsite/?url=https%3A%2F%2Fgo.example.com%2Fl%2FAb3dE5gH",
        ),
        (
            "x",
            "https://x.com/intent/tweet?text=We%27re%20hiring%21%20%23jobs"
            "&url=https%3A%2F%2Fgo.example.com%2Fl%2FAb3dE5gH",
        ),
        (
            "facebook",
            "https://www.facebook.com/sharer/sharer.php?u=https%3A%2F%2Fgo.example.com%2Fl%2FAb3dE5gH",
        ),
        (
            "xing",
            "https://www.xing.com/spi/shares/new?url=https%3A%2F%2Fgo.example.com%2Fl%2FAb3dE5gH",
        ),
        (
            "whatsapp",
            "https://wa.me/?text=We%27re%20hiring%21%20%23jobs%20https%3A%2F%2Fgo.example.com%2Fl%2FAb3dE5gH",
        ),
        (
            "email",
            "mailto:?subject=Platform%20engineers&body=We%27re%20hiring%21%20%23jobs%0A%0A"
            "https%3A%2F%2Fgo.example.com%2Fl%2FAb3dE5gH",
        ),
    ],
)
def test_intent_url_of_each_network(network: str, expected: str) -> None:
    intent = share_intent(
        network, link=LINK, text="We're hiring! #jobs", title="Platform engineers"
    )
    assert intent.url == expected


def test_instagram_gets_text_and_image_to_copy() -> None:
    intent = share_intent(
        "instagram", link=LINK, text="Join us", image_url="https://cdn.example.com/a.png"
    )
    assert intent.url is None
    assert intent.copy_text == f"Join us\n\n{LINK}"
    assert intent.image_url == "https://cdn.example.com/a.png"


def test_utm_parameters_replace_existing_ones_and_keep_the_rest() -> None:
    url = with_utm(
        "https://example.com/jobs/42?ref=x&utm_source=old#apply",
        network="linkedin",
        campaign="spring",
        share_id="s1",
    )
    assert url == (
        "https://example.com/jobs/42?ref=x&utm_source=linkedin&utm_medium=employee_advocacy"
        "&utm_campaign=spring&utm_content=s1#apply"
    )


def test_targeting_by_group_location_and_language() -> None:
    audience = {"groups": ["sales"], "locations": ["berlin"], "languages": ["de"]}
    assert targeted(audience, Viewer(frozenset({"sales", "x"}), "berlin", ("de-DE",)))
    assert not targeted(audience, Viewer(frozenset({"hr"}), "berlin", ("de",)))
    assert not targeted(audience, Viewer(frozenset({"sales"}), "paris", ("de",)))
    assert not targeted(audience, Viewer(frozenset({"sales"}), "berlin", ("fr",)))
    assert targeted({"groups": [], "locations": [], "languages": []}, EVERYONE)


def _content(**overrides: Any) -> ContentItem:
    fields: dict[str, Any] = {
        "url": "https://example.com",
        "publish_at": NOW - timedelta(hours=1),
        **overrides,
    }
    return ContentItem(content_id="c1", **fields)


def _refused(content: ContentItem | None) -> tuple[str, str] | None:
    refusal = cannot_share(content, EVERYONE, NOW)
    return (refusal.kind, refusal.reason.split(": ", 1)[1]) if refusal else None


def test_only_published_unexpired_unretired_targeted_content_is_shareable() -> None:
    assert _refused(_content()) is None
    assert _refused(None) == ("unknown", "no shareable content item with this id")
    assert _refused(_content(expires_at=NOW)) == ("unavailable", "the content item has expired")
    assert _refused(_content(publish_at=NOW + timedelta(seconds=1))) == (
        "unavailable",
        "the content item is not published yet",
    )
    assert _refused(_content(retired_at=NOW)) == (
        "unavailable",
        "the content item has been retired",
    )
    assert _refused(_content(audience=Audience.of(["hr"], [], []))) == (
        "not_targeted",
        "the content item is not targeted to you",
    )


def test_advocate_must_be_enrolled_and_have_acknowledged_required_guidelines() -> None:
    enrolled = Advocate("acme", "e1", AdvocateStatus.ENROLLED)
    assert cannot_share_as(None, None, 0) is not None
    opted_out = Advocate("acme", "e1", AdvocateStatus.OPTED_OUT)
    assert cannot_share_as(opted_out, None, 0) is not None
    assert cannot_share_as(enrolled, None, 0) is None
    required = Guidelines(version=3, acknowledgement_required=True)
    assert "version 3" in (cannot_share_as(enrolled, required, 2) or "")
    assert cannot_share_as(enrolled, required, 3) is None
    assert (
        cannot_share_as(enrolled, Guidelines(version=3, acknowledgement_required=False), 0) is None
    )


def test_visitor_hash_is_pseudonymous_and_changes_daily() -> None:
    today = daily_salt(b"k", date(2026, 5, 4))
    tomorrow = daily_salt(b"k", date(2026, 5, 5))
    first = visitor_hash(today, "203.0.113.7", "Firefox")
    assert first == visitor_hash(today, "203.0.113.7", "Firefox")
    assert "203.0.113.7" not in first
    assert first != visitor_hash(tomorrow, "203.0.113.7", "Firefox")
    assert first != visitor_hash(today, "203.0.113.8", "Firefox")


def test_unique_within_an_hour() -> None:
    assert is_unique(None, NOW)
    assert not is_unique(NOW - timedelta(minutes=59), NOW)
    assert is_unique(NOW - timedelta(hours=1), NOW)


def test_advocate_cookie_is_signed() -> None:
    value = advocate_cookie(b"k", "acme", "e1")
    assert cookie_advocate(b"k", value) == ("acme", "e1")
    assert cookie_advocate(b"other", value) is None
    assert cookie_advocate(b"k", value.replace("e1", "e2")) is None
    assert cookie_advocate(b"k", "garbage") is None


def test_webhook_signature_checks() -> None:
    body, now = b'{"id": "1"}', 1_800_000_000
    good = sign(b"s", str(now), body)
    assert signature_problem(b"s", str(now), good, body, now) is None
    assert signature_problem(b"s", str(now), good, body + b" ", now) is not None
    assert signature_problem(b"t", str(now), good, body, now) is not None
    assert signature_problem(b"s", str(now - 600), sign(b"s", str(now - 600), body), body, now)
    assert signature_problem(b"s", None, good, body, now) is not None
    assert signature_problem(b"s", "soon", good, body, now) is not None


def test_a_report_from_no_known_connector_reads_as_a_wrong_signature() -> None:
    body, now = b'{"id": "1"}', 1_800_000_000
    good = sign(b"s", str(now), body)
    assert signature_problem(None, str(now), good, body, now) == signature_problem(
        b"t", str(now), good, body, now
    )


def test_a_connector_secret_is_its_tenants_its_own_and_its_versions() -> None:
    key = b"installation"
    secret = connector_secret(key, "acme", "c1", 1)
    assert len(secret) == 64 and secret == connector_secret(key, "acme", "c1", 1)
    others = {
        connector_secret(key, "globex", "c1", 1),
        connector_secret(key, "acme", "c2", 1),
        connector_secret(key, "acme", "c1", 2),
        connector_secret(b"another installation", "acme", "c1", 1),
        # The parts do not run together: ("acme", "1c1") is not ("acme1", "c1").
        connector_secret(key, "acme1", "c1", 1),
        connector_secret(key, "acme", "1c1", 1),
    }
    assert secret not in others and len(others) == 6


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("1800000000", "sha256=é"),
        ("1800000000", "sha256=\x00"),
        ("1800000000é", None),
        ("+1800000000", None),
        ("1_800_000_000", None),
        (" 1800000000", None),
        ("1" + "0" * 400, None),
        ("١٨٠٠٠٠٠٠٠٠", None),  # digits, but not ASCII ones
    ],
)
def test_a_malformed_signature_header_is_a_problem_not_an_error(
    timestamp: str, signature: str | None
) -> None:
    body, now = b'{"id": "1"}', 1_800_000_000
    given = signature or sign(b"s", timestamp, body)
    assert signature_problem(b"s", timestamp, given, body, now) is not None


@pytest.mark.parametrize(
    "value",
    ["acme:e1:" + "é" * 32, "é:é:é", ":::", "acme:e1", "acme%3Ae1:x:y", "\xff\xfe\x00", ""],
)
def test_a_malformed_advocate_cookie_names_nobody(value: str) -> None:
    assert cookie_advocate(b"k", value) is None


@pytest.mark.parametrize(("tenant", "employee"), [("acme", "łukasz.ærø"), ("ac:me", "a:b@c")])
def test_an_advocate_cookie_is_ascii_whatever_the_ids(tenant: str, employee: str) -> None:
    value = advocate_cookie(b"k", tenant, employee)
    assert value.isascii()
    assert cookie_advocate(b"k", value) == (tenant, employee)
    assert cookie_advocate(b"k", advocate_cookie(b"k", tenant, employee + "x")) != (
        tenant,
        employee,
    )
