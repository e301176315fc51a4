"""The analytics page's pure helpers: views from addresses, headline figures, the chart."""

from __future__ import annotations

from datetime import date

from web.domain import analytics

TODAY = date(2026, 5, 20)


def test_a_preset_ends_today_and_two_days_win_over_it() -> None:
    week = analytics.view_of(TODAY, "7d")
    assert (week.start, week.end, week.preset) == (date(2026, 5, 14), TODAY, "7d")
    quarter = analytics.view_of(TODAY, "quarter")
    assert quarter.start == date(2026, 4, 1)
    chosen = analytics.view_of(TODAY, "7d", "2026-01-01", "2026-01-31")
    assert (chosen.start, chosen.end, chosen.preset) == (date(2026, 1, 1), date(2026, 1, 31), "")
    assert chosen.previous == (date(2025, 12, 1), date(2025, 12, 31))


def test_unusable_addresses_fall_back_to_the_last_30_days() -> None:
    for start, end in (("x", "2026-01-01"), ("2026-02-01", "2026-01-01"), (None, None)):
        view = analytics.view_of(TODAY, "bogus", start, end, network="myspace", kind="spam")
        assert (view.start, view.end, view.preset) == (date(2026, 4, 21), TODAY, "30d")
        assert view.network == "" and view.kind == ""


def test_the_address_keeps_the_view_and_metrics_gets_the_days() -> None:
    view = analytics.view_of(TODAY, "7d", group="sales", network="linkedin")
    assert view.query() == "preset=7d&group=sales&network=linkedin"
    assert view.params() == {
        "start": "2026-05-14",
        "end": "2026-05-20",
        "group": "sales",
        "network": "linkedin",
    }
    assert analytics.view_of(TODAY, None, "2026-01-01", "2026-12-31").granularity == "week"


def test_headlines_compare_with_the_previous_period() -> None:
    compared = {
        "figures": {"shares": 10, "clicks": 4, "earned_media_value": 1.5},
        "previous": {"shares": 8, "clicks": 0},
        "change": {"shares": 0.25, "clicks": None},
    }
    by_name = {h.name: h for h in analytics.headlines(compared, emv=2.0)}
    assert [h for h in by_name] == list(analytics.HEADLINE)
    assert by_name["shares"].direction == "up"
    assert by_name["clicks"].direction == "new"
    assert by_name["earned_media_value"].value == 2.0
    assert by_name["reach"].direction == "same"


def test_the_series_is_filled_and_charted_beside_the_previous_period() -> None:
    labels = analytics.periods(date(2026, 5, 18), date(2026, 5, 20), "day")
    assert labels == ["2026-05-18", "2026-05-19", "2026-05-20"]
    assert analytics.periods(date(2026, 5, 17), date(2026, 5, 19), "week") == [
        "2026-W20",
        "2026-W21",
    ]
    values = analytics.filled([{"period": "2026-05-19", "clicks": 4}], labels, "clicks")
    assert values == [0, 4, 0]
    chart = analytics.comparison_chart(labels, values, [2, 0, 8], width=300, height=100)
    assert chart.top == 8
    assert chart.points[1].height == 50.0
    assert chart.line.split()[2] == "250.0,0.0"


def test_only_visible_advocates_are_named_the_rest_are_summed() -> None:
    rows = [
        {"advocate": "a", "shares": 3, "clicks": 5},
        {"advocate": "b", "shares": 2, "clicks": 1},
        {"advocate": "c", "shares": 1, "clicks": 0},
    ]
    out = analytics.visible_advocates(rows, {"a"})
    assert [r["advocate"] for r in out.shown] == ["a"]
    assert (out.private_count, out.private_shares, out.private_clicks) == (2, 3, 1)


def test_fingerprints_and_goal_shares() -> None:
    assert analytics.fingerprint({"a": 1}) == analytics.fingerprint({"a": 1})
    assert analytics.fingerprint({"a": 1}) != analytics.fingerprint({"a": 2})
    assert analytics.goal_share({"progress": 1.4}) == 1.0
    assert analytics.goal_share({"progress": None}) == 0.0
