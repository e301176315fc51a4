"""The "top 10% of the month" cutoff as a pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from rewards.domain.months import (
    last_closed_month,
    month_end,
    next_month,
    previous_month,
    top_badge_id,
    top_of_month,
)


def winners(points: dict[str, int]) -> set[str]:
    return {e for e, _ in top_of_month("2026-01", points).winners}


def test_the_top_tenth_of_the_ranked_employees_qualify() -> None:
    points = {f"e{i:02d}": 100 - i for i in range(30)}
    top = top_of_month("2026-01", points)
    assert (top.ranked, top.places, top.cutoff) == (30, 3, 98)
    assert top.winners == [("e00", 100), ("e01", 99), ("e02", 98)]


def test_places_round_down_but_there_is_always_one_winner() -> None:
    assert winners({f"e{i:02d}": 100 - i for i in range(19)}) == {"e00"}
    assert winners({"e1": 5, "e2": 3}) == {"e1"}
    assert winners({"only": 1}) == {"only"}


def test_ties_at_the_cutoff_all_qualify() -> None:
    points = {f"e{i:02d}": 10 for i in range(5)} | {f"f{i:02d}": 1 for i in range(15)}
    top = top_of_month("2026-01", points)
    assert top.places == 2
    assert winners(points) == {f"e{i:02d}" for i in range(5)}


def test_employees_without_points_are_not_ranked_and_never_qualify() -> None:
    assert winners({}) == set()
    assert winners({"e1": 0, "e2": -5}) == set()
    top = top_of_month("2026-01", {"e1": 0, "e2": 4, "e3": -10})
    assert (top.ranked, top.winners) == (1, [("e2", 4)])


def test_net_points_decide_so_a_clawback_can_cost_the_badge() -> None:
    earned = {f"e{i:02d}": 50 + i for i in range(10)}
    assert winners(earned) == {"e09"}
    clawed = dict(earned, e09=earned["e09"] - 20)
    assert winners(clawed) == {"e08"}


def test_months_in_utc() -> None:
    assert next_month("2026-12") == "2027-01"
    assert previous_month("2026-01") == "2025-12"
    assert month_end("2026-02") == datetime(2026, 3, 1, tzinfo=UTC)
    grace = timedelta(hours=1)
    assert last_closed_month(datetime(2026, 3, 1, 0, 30, tzinfo=UTC), grace) == "2026-01"
    assert last_closed_month(datetime(2026, 3, 1, 1, 0, tzinfo=UTC), grace) == "2026-02"


def test_one_badge_id_per_employee_and_month() -> None:
    assert top_badge_id("t", "e1", "2026-01") == top_badge_id("t", "e1", "2026-01")
    assert top_badge_id("t", "e1", "2026-01") != top_badge_id("t", "e1", "2026-02")
    assert top_badge_id("t", "e1", "2026-01") != top_badge_id("t2", "e1", "2026-01")
