"""The company page's follower counts as a line."""

from __future__ import annotations

from datetime import UTC, date, datetime

from web.domain.growth import counts, line


def test_counts_of_one_network_oldest_first() -> None:
    items = [
        {"network": "linkedin", "followers": 120, "measured_at": "2026-03-20T10:00:00+00:00"},
        {"network": "x", "followers": 9, "measured_at": "2026-03-21T10:00:00+00:00"},
        {"network": "linkedin", "followers": 100, "measured_at": "2026-03-01T10:00:00+00:00"},
        {"network": "linkedin", "followers": 1, "measured_at": "not a time"},
    ]
    assert [n for _, n in counts(items, "linkedin")] == [100, 120]


def test_a_line_rises_with_the_followers_and_spans_the_period() -> None:
    points = [
        (datetime(2026, 3, 1, tzinfo=UTC), 100),
        (datetime(2026, 3, 31, 23, tzinfo=UTC), 200),
        (datetime(2026, 4, 5, tzinfo=UTC), 900),  # after the period: not drawn
    ]
    drawn = line(points, date(2026, 3, 1), date(2026, 3, 31), width=100, height=50, pad=0)
    assert drawn is not None
    first, last = drawn.marks
    assert first.x == 0 and 99 < last.x <= 100
    assert last.y < first.y  # up is more
    assert drawn.low < 100 and drawn.high > 200
    assert line(points, date(2026, 5, 1), date(2026, 5, 31)) is None
    flat = line([(datetime(2026, 3, 2, tzinfo=UTC), 50)], date(2026, 3, 1), date(2026, 3, 31))
    assert flat is not None and flat.low < 50 < flat.high
