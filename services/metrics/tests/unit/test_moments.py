"""When the audience engages: engagement by weekday and hour in the audience's time zone,
the busiest hours, and when each next begins."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from metrics.domain.moments import ALL, ENOUGH, Pattern, next_times, patterns

OSLO = ZoneInfo("Europe/Oslo")


def test_engagement_counts_in_the_audience_time_zone_per_network_and_over_all() -> None:
    # Tuesday 2026-06-02 05:30 UTC is 07:30 in Oslo (summer time).
    at = datetime(2026, 6, 2, 5, 30, tzinfo=UTC)
    found = patterns([(at, "linkedin", 3), (at, "x", 1), (at, "x", 0)], OSLO)
    assert found["linkedin"].counts[1][7] == 3
    assert found["x"].counts[1][7] == 1
    assert found[ALL].counts[1][7] == 4
    assert found[ALL].total == 4
    # In winter the same UTC hour is an hour earlier in Oslo.
    winter = patterns([(datetime(2026, 12, 1, 5, 30, tzinfo=UTC), "linkedin", 1)], OSLO)
    assert winter["linkedin"].counts[1][6] == 1


def test_no_time_is_suggested_until_there_is_enough_engagement() -> None:
    pattern = Pattern()
    pattern.add(0, 8, ENOUGH - 1)
    assert pattern.best() == []
    pattern.add(2, 18, 1)
    assert pattern.best() == [(0, 8), (2, 18)]


def test_the_busiest_hours_first_and_ties_to_the_earlier_slot() -> None:
    pattern = Pattern()
    for weekday, hour, count in [(4, 17, 20), (0, 7, 20), (2, 21, 40), (3, 12, 5)]:
        pattern.add(weekday, hour, count)
    assert pattern.best(3) == [(2, 21), (0, 7), (4, 17)]
    assert pattern.share_of(2, 21) == 40 / 85


def test_next_times_are_the_coming_occurrences_soonest_first_and_never_too_soon() -> None:
    # Monday 2026-06-01 06:50 in Oslo.
    now = datetime(2026, 6, 1, 6, 50, tzinfo=OSLO)
    got = next_times([(0, 7), (0, 18), (6, 9)], now, OSLO)
    # 07:00 today is only 10 minutes away: next Monday's instead.
    assert got == [
        datetime(2026, 6, 1, 18, tzinfo=OSLO),
        datetime(2026, 6, 7, 9, tzinfo=OSLO),
        datetime(2026, 6, 8, 7, tzinfo=OSLO),
    ]
    assert all(t - now >= timedelta(minutes=15) for t in got)


def test_an_hour_skipped_by_the_change_of_clocks_moves_past_the_gap() -> None:
    # Sunday 2026-03-29: Oslo's clocks go from 02:00 to 03:00.
    now = datetime(2026, 3, 28, 12, tzinfo=OSLO)
    [got] = next_times([(6, 2)], now, OSLO)
    assert got.astimezone(UTC) == datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert got.astimezone(OSLO).hour == 3
