"""Pure rules of sharing: links, intents, targeting, bots, visitors, signatures."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from share.domain.advocates import cannot_share_as
from share.domain.clicks import (
    advocate_cookie,
    cookie_advocate,
    daily_salt,
    is_bot,
    is_unique,
    visitor_hash,
)
from share.domain.links import Viewer, cannot_share, share_intent, targeted, with_utm
from share.domain.signatures import sign, signature_problem

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
LINK = "https://go.example.com/l/Ab3dE5gH"
EVERYONE = Viewer(frozenset(), None, ())

BOTS = [
    "LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)",
    "Twitterbot/1.0",
    "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)",
    "facebookcatalog/1.0",
    "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)",
    "Slackbot 1.0 (+https://api.slack.com/robots)",
    "Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)",
    "WhatsApp/2.23.20.0 A",
    "WhatsApp/2.2349.2 i",
    "TelegramBot (like TwitterBot)",
    "Mastodon/4.2.1 (http.rb/5.1.1; +https://mastodon.social/)",
    "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
    "Googlebot-Image/1.0",
    "Mozilla/5.0 AppleWebKit/537.36 (KHTML, like Gecko; compatible; Googlebot/2.1) Chrome/120",
    "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (Applebot/0.1)",
    "Mozilla/5.0 (compatible; YandexBot/3.0; +http://yandex.com/bots)",
    "Mozilla/5.0 (compatible; Baiduspider/2.0; +http://www.baidu.com/search/spider.html)",
    "DuckDuckBot/1.1; (+http://duckduckgo.com/duckduckbot.html)",
    "Pinterestbot/1.0 (+http://www.pinterest.com/bot.html)",
    "Mozilla/5.0 (compatible; redditbot/1.0; +http://www.reddit.com/feedback)",
    "Mozilla/5.0 (Windows NT 6.1; WOW64) SkypeUriPreview Preview/0.5",
    "Mozilla/5.0 (compatible; Embedly/0.2; +http://support.embed.ly/)",
    "Iframely/1.3.1 (+https://iframely.com/docs/about)",
    "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)",
    "Mozilla/5.0 (compatible; SemrushBot/7~bl; +http://www.semrush.com/bot.html)",
    "Mozilla/5.0 (compatible; MJ12bot/v1.4.8; http://mj12bot.com/)",
    "SomeCompany Crawler/2.1",
    "ExampleSpider/0.9 (+https://example.org/spider)",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 HeadlessChrome/120.0 Safari/537.36",
    "curl/8.5.0",
    "python-requests/2.31.0",
    "Go-http-client/2.0",
    "",
]

BROWSERS = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/18.1 Safari/605.1.15",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14.7; rv:132.0) Gecko/20100101 Firefox/132.0",
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPad; CPU OS 17_6 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.6 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) CriOS/131.0.6778.73 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) FxiOS/133.0 Mobile/15E148 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.6778.81 Mobile Safari/537.36",
    "Mozilla/5.0 (Linux; Android 13; SM-S918B) AppleWebKit/537.36 (KHTML, like Gecko) "
    "SamsungBrowser/23.0 Chrome/115.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Android 14; Mobile; rv:133.0) Gecko/133.0 Firefox/133.0",
    "Mozilla/5.0 (Linux; Android 12; moto g(60)) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/130.0.0.0 Safari/537.36 OPR/115.0.0.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Vivaldi/7.0",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 YaBrowser/24.1.0.0 Safari/537.36",
    "Mozilla/5.0 (X11; CrOS x86_64 14541.0.0) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Mobile Safari/537.36 [LinkedInApp]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 [LinkedInApp]/9.29.7",
    "Mozilla/5.0 (Linux; Android 14; SM-A546B Build/UP1A; wv) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/130.0 Mobile Safari/537.36 [FB_IAB/FB4A;FBAV/480.0;]",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Instagram 340.0.0.22.109",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_6 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.6 Mobile/15E148 Twitter for iPhone",
    "Mozilla/5.0 (Windows NT 6.1; Trident/7.0; rv:11.0) like Gecko",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36 Brave/131",
    "Mozilla/5.0 (Linux; U; Android 11; en-US; CPH2269) AppleWebKit/537.36 "
    "(KHTML, like Gecko) Version/4.0 Chrome/100.0 UCBrowser/13.4.0 Mobile Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.4 Safari/605.1.15",
    "Mozilla/5.0 (Linux; Android 9; Mi A2 Lite) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/125.0.0.0 Mobile Safari/537.36",
    "Mozilla/5.0 (X11; Fedora; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
]


def test_thirty_and_more_bots_and_link_previews_are_recognised() -> None:
    assert len(BOTS) >= 30
    assert [ua for ua in BOTS if not is_bot(ua)] == []


def test_thirty_and_more_browsers_are_people() -> None:
    assert len(BROWSERS) >= 30
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


def _content(**overrides: object) -> dict[str, object]:
    return {"url": "https://example.com", "publish_at": NOW - timedelta(hours=1), **overrides}


def test_only_published_unexpired_unretired_targeted_content_is_shareable() -> None:
    assert cannot_share(_content(), EVERYONE, NOW) is None
    assert "no shareable" in (cannot_share(None, EVERYONE, NOW) or "")
    assert "expired" in (cannot_share(_content(expires_at=NOW), EVERYONE, NOW) or "")
    assert "not published" in (
        cannot_share(_content(publish_at=NOW + timedelta(seconds=1)), EVERYONE, NOW) or ""
    )
    assert "retired" in (cannot_share(_content(retired_at=NOW), EVERYONE, NOW) or "")
    assert "not targeted" in (
        cannot_share(_content(audience={"groups": ["hr"]}), EVERYONE, NOW) or ""
    )


def test_advocate_must_be_enrolled_and_have_acknowledged_required_guidelines() -> None:
    enrolled = {"status": "enrolled"}
    assert cannot_share_as(None, None, 0) is not None
    assert cannot_share_as({"status": "opted_out"}, None, 0) is not None
    assert cannot_share_as(enrolled, None, 0) is None
    required = {"version": 3, "acknowledgement_required": True}
    assert "version 3" in (cannot_share_as(enrolled, required, 2) or "")
    assert cannot_share_as(enrolled, required, 3) is None
    assert cannot_share_as(enrolled, {"version": 3, "acknowledgement_required": False}, 0) is None


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
