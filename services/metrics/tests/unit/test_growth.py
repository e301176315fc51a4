"""Network growth from histories of measurements: the company page's followers, the
advocates' own audiences, and new connections per post."""

from __future__ import annotations

from datetime import UTC, date, datetime

from metrics.domain.growth import History, bounds, figures, histories


def _at(day: int, month: int = 3) -> datetime:
    return datetime(2026, month, day, 12, tzinfo=UTC)


def test_the_value_at_a_moment_is_the_last_measured_by_then() -> None:
    history = History([(_at(1), 100), (_at(10), 120), (_at(20), 150)])
    assert history.at(_at(1)) == 100
    assert history.at(_at(15)) == 120
    assert history.at(datetime(2026, 2, 1, tzinfo=UTC)) is None
    start, end = bounds(date(2026, 3, 5), date(2026, 3, 20))
    assert history.span(start, end) == (100, 150)
    # Nothing measured in a period: no growth to tell, not a growth of zero.
    assert history.span(*bounds(date(2026, 4, 1), date(2026, 4, 30))) is None


def test_a_history_that_begins_in_the_period_is_measured_from_its_first_point() -> None:
    start, end = bounds(date(2026, 3, 1), date(2026, 3, 31))
    assert History([(_at(5), 200), (_at(25), 230)]).span(start, end) == (200, 230)
    # One measurement alone, inside the period, tells no growth.
    assert History([(_at(5), 200)]).span(start, end) is None


def test_growth_figures_of_a_period_by_network_and_advocates() -> None:
    facts = [
        {"type": "followers-measured", "time": _at(1), "network": "linkedin", "followers": 1000},
        {"type": "followers-measured", "time": _at(28), "network": "linkedin", "followers": 1140},
        {"type": "followers-measured", "time": _at(1), "network": "x", "followers": 500},
        {"type": "followers-measured", "time": _at(28), "network": "x", "followers": 500},
        {
            "type": "audience-measured",
            "time": _at(1),
            "advocate": "a",
            "network": "linkedin",
            "audience_size": 100,
        },
        {
            "type": "audience-measured",
            "time": _at(28),
            "advocate": "a",
            "network": "linkedin",
            "audience_size": 130,
        },
        {
            "type": "audience-measured",
            "time": _at(2),
            "advocate": "b",
            "network": "linkedin",
            "audience_size": 400,
        },
        {
            "type": "audience-measured",
            "time": _at(27),
            "advocate": "b",
            "network": "linkedin",
            "audience_size": 440,
        },
        # Measured before the period only: nothing is known of the period.
        {
            "type": "audience-measured",
            "time": _at(1, 2),
            "advocate": "c",
            "network": "x",
            "audience_size": 80,
        },
    ]
    pages, audiences = histories(facts)
    shares = {("a", "linkedin"): 4, ("b", "linkedin"): 3, ("c", "x"): 2}
    got = figures(pages, audiences, date(2026, 3, 1), date(2026, 3, 31), shares)
    assert got["company_follower_growth"] == round(140 / 1500, 6)
    assert got["advocate_network_growth"] == round((0.3 + 0.1) / 2, 6)
    assert got["new_connections_per_post"] == 10
    linkedin = figures(pages, audiences, date(2026, 3, 1), date(2026, 3, 31), shares, "linkedin")
    assert linkedin["company_follower_growth"] == 0.14
    only_a = figures(pages, audiences, date(2026, 3, 1), date(2026, 3, 31), shares, None, {"a"})
    assert only_a["advocate_network_growth"] == 0.3
    assert only_a["new_connections_per_post"] == 7.5
    nothing = figures({}, {}, date(2026, 3, 1), date(2026, 3, 31), {})
    assert nothing == dict.fromkeys(nothing, None)
