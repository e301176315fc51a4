"""The buddy page's forms: what is wrong with a draft or a comment, by field, in plain words."""

from __future__ import annotations

from web.entrypoints.buddy import comment_error, draft_errors, reaction_label
from web.i18n import Texts

EN = Texts("en")
SV = Texts("sv")


def test_a_draft_needs_a_network_and_text_that_fits_it() -> None:
    assert draft_errors({"network": "linkedin", "text": "Proud of the team."}, EN) == {}
    assert set(draft_errors({"network": "linkedin", "text": "   "}, EN)) == {"text"}
    assert set(draft_errors({"network": "myspace", "text": "Hi"}, EN)) == {"network"}
    too_long = draft_errors({"network": "x", "text": "y" * 300}, EN)
    assert set(too_long) == {"text"} and "280" in too_long["text"]


def test_a_draft_link_is_optional_but_a_full_address() -> None:
    ok = {"network": "linkedin", "text": "Read this", "url": "https://example.com/a"}
    assert draft_errors(ok, EN) == {}
    assert set(draft_errors({**ok, "url": "example.com"}, EN)) == {"url"}


def test_a_comment_is_neither_empty_nor_endless() -> None:
    assert comment_error("Say what you built.", EN) is None
    assert comment_error("  ", EN) == "Write a comment first."
    assert comment_error("x" * 1001, EN) is not None


def test_reactions_have_words_in_every_language() -> None:
    assert reaction_label("heart", EN) == "Love it"
    assert reaction_label("heart", SV) == "Älskar det"
