"""The engagement retention field of the program settings: a whole number of days within
metrics' bounds, as people type it; its error in every language."""

from __future__ import annotations

import pytest

from web.entrypoints.program_admin import retention_days
from web.i18n import LANGUAGES, Texts


@pytest.mark.parametrize(
    ("typed", "expected"), [("30", 30), (" 400 ", 400), ("3 650", 3650), ("1 000", 1000)]
)
def test_days_as_people_type_them(typed: str, expected: int) -> None:
    assert retention_days(typed) == expected


@pytest.mark.parametrize("typed", ["", "29", "3651", "-40", "1.5", "a year"])
def test_what_is_not_a_retention(typed: str) -> None:
    assert retention_days(typed) is None


@pytest.mark.parametrize("language", LANGUAGES)
def test_the_error_is_in_every_language(language: str) -> None:
    error = Texts(language).gettext("Enter a whole number of days from 30 to 3,650.")
    assert "30" in error and "650" in error
