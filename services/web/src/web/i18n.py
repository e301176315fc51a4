"""Languages: gettext catalogs (Babel) per locale, chosen per request.

The catalogs are `locale/<lang>/LC_MESSAGES/messages.po`, compiled in memory at start-up
(no compiled files in the repository). `python -m web.i18n update` extracts the messages
from the code and templates and merges them into every catalog.
"""

from __future__ import annotations

import datetime as dt
import gettext
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from functools import cache
from pathlib import Path
from typing import Any

from babel import Locale, dates, numbers
from babel.messages import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from markupsafe import Markup, escape

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
LANGUAGES = ("en", "sv", "da", "nb", "fi")
DEFAULT = "en"
# Each language named in itself, for the language menu.
NATIVE_NAMES = {
    "en": "English",
    "sv": "Svenska",
    "da": "Dansk",
    "nb": "Norsk bokmål",
    "fi": "Suomi",
}
# Templates call `_` and `_n`; Python code calls `texts.gettext` and `texts.ngettext`.
KEYWORDS = {"_": None, "_n": (1, 2), "gettext": None, "ngettext": (1, 2)}
METHOD_MAP = [("**/templates/**.html", "jinja2"), ("**.py", "python")]


@cache
def translations(language: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
    if language == DEFAULT or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def negotiate(accept_language: str) -> str:
    """The best of our languages for an Accept-Language header; English if none fits."""
    wanted = []
    for part in accept_language.split(",")[:20]:
        tag, _, params = part.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag:
            wanted.append((quality, tag.strip()))
    ranked = [tag for quality, tag in sorted(wanted, key=lambda w: -w[0]) if quality > 0]
    # Norwegian is often sent as "no" or "nn"; Bokmål is the written form we have.
    ranked = ["nb" if t.lower().split("-")[0] in ("no", "nn") else t for t in ranked]
    found = Locale.negotiate(ranked, list(LANGUAGES), sep="-")
    return str(found.language) if found else DEFAULT


@dataclass(frozen=True)
class Texts:
    """One request's language: messages, and numbers and dates formatted for the locale."""

    language: str

    @property
    def locale(self) -> Locale:
        return Locale.parse(self.language)

    def gettext(self, message: str, **values: Any) -> str:
        text = translations(self.language).gettext(message)
        if not values:
            return text
        return Markup(escape(text)) % {k: escape(v) for k, v in values.items()}

    def ngettext(self, singular: str, plural: str, count: int, **values: Any) -> str:
        text = translations(self.language).ngettext(singular, plural, count)
        values.setdefault("count", self.number(count))
        return Markup(escape(text)) % {k: escape(v) for k, v in values.items()}

    def number(self, value: float | int) -> str:
        return numbers.format_decimal(value, locale=self.language)

    def percent(self, value: float) -> str:
        return numbers.format_percent(value, locale=self.language, format="#,##0.#%")

    def date(self, value: dt.datetime | dt.date | None, form: str = "medium") -> str:
        if value is None:
            return ""
        return dates.format_date(value, format=form, locale=self.language)

    def datetime(self, value: dt.datetime | None, form: str = "medium") -> str:
        if value is None:
            return ""
        return dates.format_datetime(value, format=form, locale=self.language)

    def day_and_time(self, value: dt.datetime) -> str:
        """'Thu, December 3 6:00 PM': a weekday, a day and a time, in the locale."""
        day = dates.format_skeleton("MMMMEEEEd", value, locale=self.language)
        return f"{day} {dates.format_time(value, 'short', locale=self.language)}"

    def ago(self, value: dt.datetime | None, now: dt.datetime | None = None) -> str:
        """'3 days ago', in the locale."""
        if value is None:
            return ""
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        delta = value - (now or dt.datetime.now(UTC))
        return dates.format_timedelta(
            delta, add_direction=True, threshold=1.0, format="long", locale=self.language
        )

    def helpers(self) -> dict[str, Callable[..., Any]]:
        return {
            "_": self.gettext,
            "_n": self.ngettext,
            "fmt_number": self.number,
            "fmt_percent": self.percent,
            "fmt_date": self.date,
            "fmt_datetime": self.datetime,
            "fmt_ago": self.ago,
        }


def extract(root: Path | None = None) -> Catalog:
    """Every message in the web app's code and templates."""
    source = root or Path(__file__).resolve().parent
    catalog = Catalog(project="Chorus", locale=None)
    for filename, lineno, message, comments, context in extract_from_dir(
        str(source), METHOD_MAP, keywords=KEYWORDS, comment_tags=("Translators:",)
    ):
        catalog.add(message, None, [(filename, lineno)], auto_comments=comments, context=context)
    return catalog


def update() -> None:
    """Merge the extracted messages into every catalog (new ones untranslated)."""
    template = extract()
    for language in LANGUAGES:
        if language == DEFAULT:
            continue
        path = LOCALE_DIR / language / "LC_MESSAGES" / "messages.po"
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as handle:
                catalog = read_po(handle, locale=language)
        else:
            catalog = Catalog(project="Chorus", locale=language)
        catalog.update(template, no_fuzzy_matching=True)
        with path.open("wb") as handle:
            write_po(handle, catalog, width=100, omit_header=False, ignore_obsolete=True)


if __name__ == "__main__":
    if sys.argv[1:] != ["update"]:
        print("usage: python -m web.i18n update", file=sys.stderr)
        raise SystemExit(2)
    update()
