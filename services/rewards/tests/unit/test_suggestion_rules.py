"""The rules of reward suggestions as pure functions."""

from __future__ import annotations

import pytest

from rewards.domain.suggestions import (
    Ranked,
    SuggestionStatus,
    after,
    can_vote,
    erasure_key,
    links_item,
    pseudonym,
    rank,
    title_key,
)

OPEN, STOCKED, DECLINED = SuggestionStatus


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("Team lunch", "team LUNCH"),
        ("  Team   lunch ", "Team lunch"),
        ("Kaffe\u0301", "Kaffé"),
        ("Straße", "STRASSE"),
    ],
)
def test_titles_compare_without_case_or_spacing(a: str, b: str) -> None:
    assert title_key(a) == title_key(b)


@pytest.mark.parametrize(
    ("status", "already", "allowed"),
    [
        (OPEN, False, True),
        (OPEN, True, True),
        (STOCKED, False, False),
        (DECLINED, False, False),
        (STOCKED, True, True),
        (DECLINED, True, True),
    ],
)
def test_votes_are_cast_on_open_suggestions_and_a_cast_one_stands(
    status: SuggestionStatus, already: bool, allowed: bool
) -> None:
    assert can_vote(status, already) is allowed


@pytest.mark.parametrize(
    ("status", "item", "allowed"),
    [(STOCKED, "mug", True), (STOCKED, None, True), (DECLINED, "mug", False), (OPEN, "mug", False)],
)
def test_only_a_stocked_suggestion_names_a_catalog_item(
    status: SuggestionStatus, item: str | None, allowed: bool
) -> None:
    assert links_item(status, item) is allowed


def test_most_votes_first_then_the_oldest_and_a_cursor_goes_on_after_its_position() -> None:
    entries = [Ranked("0002", 3), Ranked("0001", 1), Ranked("0003", 3), Ranked("0004", 0)]
    ranked = rank(entries)
    assert [r.suggestion_id for r in ranked] == ["0002", "0003", "0001", "0004"]
    assert [r.suggestion_id for r in ranked if after(r, (3, "0002"))] == ["0003", "0001", "0004"]
    assert [r.suggestion_id for r in ranked if after(r, (1, "0001"))] == ["0004"]


def test_a_pseudonym_says_erased_and_does_not_carry_the_id() -> None:
    name = pseudonym("event-123")
    assert name.startswith("erased-") and len(name) == len("erased-") + 16
    assert name == pseudonym("event-123") != pseudonym("event-124")
    assert "e1" not in erasure_key("acme", "e1") and len(erasure_key("acme", "e1")) == 64
