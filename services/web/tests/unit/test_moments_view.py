"""The audience's week as a heat table."""

from __future__ import annotations

from web.domain.moments import LEVELS, level, week_of


def test_a_cell_is_as_dark_as_its_share_of_the_busiest_hour() -> None:
    assert level(0, 10) == 0
    assert level(1, 10) == 1
    assert level(10, 10) == LEVELS
    assert level(5, 10) == 3
    assert level(3, 0) == 0


def test_a_week_has_seven_rows_of_twenty_four_hours() -> None:
    hours = [[0] * 24 for _ in range(7)]
    hours[1][7] = 8
    hours[3][18] = 2
    week = week_of(
        {
            "network": "linkedin",
            "engagements": 10,
            "hours": hours,
            "best": [{"weekday": 1, "hour": 7, "share": 0.8}],
            "next": ["2026-12-08T07:00:00+01:00"],
        }
    )
    assert [weekday for weekday, _ in week.rows] == list(range(7))
    assert all(len(cells) == 24 for _, cells in week.rows)
    assert week.rows[1][1][7].level == LEVELS
    assert week.rows[3][1][18].level == 2
    assert week.next[0].hour == 7
    empty = week_of({"network": "x"})
    assert empty.engagements == 0 and empty.best == [] and len(empty.rows) == 7
