"""Identifiers: the hot-path sequence never repeats and looks like the others."""

from __future__ import annotations

import re

import pytest

from chassis.ids import Sequence, new_id


def test_a_sequence_gives_distinct_32_hex_ids() -> None:
    first, second = Sequence(), Sequence()
    ids = [first.next() for _ in range(10_000)] + [second.next() for _ in range(10_000)]
    assert len(set(ids)) == len(ids)
    assert all(re.fullmatch(r"[0-9a-f]{32}", i) for i in ids)


def test_new_ids_sort_by_creation() -> None:
    ids = [new_id() for _ in range(100)]
    assert len(set(ids)) == 100
    assert all(re.fullmatch(r"[0-9a-f]{24}", i) for i in ids)


def test_a_cursor_the_api_never_returned_is_a_400_naming_cursor() -> None:
    from chassis.errors import status_of
    from chassis.ids import InvalidCursor, decode_cursor, encode_cursor

    assert decode_cursor(encode_cursor({"after": "x"})) == {"after": "x"}
    for bad in ("%%%", encode_cursor([1, 2])):  # type: ignore[arg-type]
        with pytest.raises(InvalidCursor) as refused:
            decode_cursor(bad)
        assert status_of(refused.value) == 400
        assert refused.value.title == "Invalid cursor"
        assert refused.value.detail == "cursor: not a cursor this API returned"
