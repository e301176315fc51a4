"""Every message has a translation in every catalog, with the same placeholders."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from babel.messages.pofile import read_po

from web.i18n import DEFAULT, LANGUAGES, LOCALE_DIR, Texts, extract, negotiate

PLACEHOLDER = re.compile(r"%\((\w+)\)s")
CATALOG = extract()
MESSAGES = [m for m in CATALOG if m.id]


def test_the_code_has_messages_to_translate() -> None:
    ids = {m.id if isinstance(m.id, str) else m.id[0] for m in MESSAGES}
    assert "Feed" in ids and "Share" in ids and len(ids) > 50


@pytest.mark.parametrize("language", [lang for lang in LANGUAGES if lang != DEFAULT])
def test_every_message_is_translated(language: str) -> None:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    assert path.exists(), f"no catalog for {language}: run `python -m web.i18n update`"
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    missing, fuzzy, broken = [], [], []
    for message in MESSAGES:
        found = catalog.get(message.id)
        if (
            found is None
            or not found.string
            or (isinstance(found.string, tuple) and not all(found.string))
        ):
            missing.append(message.id)
            continue
        if found.fuzzy:
            fuzzy.append(message.id)
        sources = message.id if isinstance(message.id, tuple) else (message.id,)
        targets = found.string if isinstance(found.string, tuple) else (found.string,)
        wanted = set().union(*(PLACEHOLDER.findall(s) for s in sources))
        for target in targets:
            if not set(PLACEHOLDER.findall(target)) <= wanted | {"count"}:
                broken.append(message.id)
    assert not missing, f"{language}: {len(missing)} untranslated, e.g. {missing[:5]}"
    assert not fuzzy, f"{language}: fuzzy translations {fuzzy[:5]}"
    assert not broken, f"{language}: placeholders that the source does not have {broken[:5]}"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("", "en"),
        ("sv-SE,sv;q=0.9,en;q=0.8", "sv"),
        ("de-DE,de;q=0.9", "en"),
        ("de-DE,da;q=0.5", "da"),
        ("nb-NO", "nb"),
        ("no", "nb"),
        ("nn-NO,en;q=0.2", "nb"),
        ("fi;q=0.3,sv;q=0.7", "sv"),
        ("fi", "fi"),
        ("*", "en"),
        ("sv;q=0", "en"),
        ("garbage;;;,,q=x", "en"),
    ],
)
def test_the_browser_language_is_negotiated(header: str, expected: str) -> None:
    assert negotiate(header) == expected


def test_numbers_and_dates_follow_the_locale() -> None:
    when = datetime(2026, 3, 5, 14, 30, tzinfo=UTC)
    assert Texts("en").number(12345) == "12,345"
    assert Texts("sv").number(12345) == "12\xa0345"
    assert Texts("fi").number(1234.5) == "1\xa0234,5"
    assert "March" in Texts("en").date(when, "long")
    assert "mars" in Texts("sv").date(when, "long")
    assert "maaliskuuta" in Texts("fi").date(when, "long")
    now = when + timedelta(days=3)
    assert Texts("en").ago(when, now) == "3 days ago"
    assert Texts("da").ago(when, now) == "for 3 dage siden"


def test_values_in_messages_are_escaped() -> None:
    text = Texts("en").gettext("Share on %(network)s", network="<b>x</b>")
    assert "&lt;b&gt;" in text and "<b>" not in text
