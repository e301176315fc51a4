"""The rules engine as pure functions: caps, multipliers, windows, exclusions, versions."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

from rewards.domain.ledger import Challenge, Standing, apply, replay
from rewards.domain.rules import (
    DEFAULT_RULES,
    EPOCH,
    Action,
    Activity,
    Multiplier,
    RuleSet,
    rules_at,
)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)  # a Monday
RULES = RuleSet(
    version=2,
    effective_from=EPOCH,
    points={Action.SHARE: 10, Action.CLICK: 1, Action.CONVERSION: 20, Action.FIRST_SHARE: 5},
    daily_caps={Action.CLICK: 3},
    daily_max=25,
)


def act(
    n: int,
    action: Action | None = Action.SHARE,
    at: datetime = T0,
    employee: str = "e1",
    **extra: object,
) -> Activity:
    return Activity(
        event_id=f"ev{n}",
        event_type="t",
        employee_id=employee,
        action=action,
        at=at,
        **extra,  # type: ignore[arg-type]
    )


def run(
    activities: list[Activity],
    versions: list[RuleSet] | None = None,
    challenges: tuple[Challenge, ...] = (),
) -> tuple[Standing, list[int], list[str]]:
    standing = Standing(tenant="t", employee_id="e1")
    points, badges = [], []
    for activity in activities:
        outcome = apply(standing, activity, versions or [RULES], challenges)
        standing = outcome.standing
        points.extend(a.points for a in outcome.awards)
        badges.extend(b.badge for b in outcome.badges)
    return standing, points, badges


def test_a_share_earns_its_points_and_the_first_share_badge() -> None:
    standing, points, badges = run([act(1)])
    assert points == [10]
    assert standing.earned == 10 and standing.month_points == 10 and standing.week_points == 10
    assert badges == ["first-share"]


def test_the_daily_cap_of_an_action_limits_its_points_and_resets_the_next_day() -> None:
    clicks = [act(i, Action.CLICK) for i in range(5)]
    clicks += [act(10 + i, Action.CLICK, at=T0 + timedelta(days=1)) for i in range(2)]
    _, points, _ = run(clicks)
    assert points == [1, 1, 1, 1, 1]  # 3 on the first day, 2 on the next


def test_the_daily_maximum_limits_all_actions_together() -> None:
    _, points, _ = run([act(i) for i in range(4)])
    assert points == [10, 10, 5]  # 25 a day, then nothing


def test_excluded_activity_earns_nothing() -> None:
    _, points, badges = run([act(1, Action.CLICK, excluded="not a unique visitor")])
    assert points == [] and badges == []


def test_campaign_multiplier_applies_inside_its_window_only() -> None:
    campaign = Multiplier(factor=3, campaign_id="c1", starts_at=T0, ends_at=T0 + timedelta(hours=1))
    rules = replace(RULES, multipliers=(campaign,), daily_max=None)
    inside = act(1, campaign_id="c1", at=T0 + timedelta(minutes=5))
    after = act(2, campaign_id="c1", at=T0 + timedelta(hours=2))
    other = act(3, campaign_id="c2", at=T0 + timedelta(minutes=5))
    _, points, _ = run([inside, after, other], [rules])
    assert points == [30, 10, 10]


def test_content_kind_multiplier_doubles_job_posts() -> None:
    rules = replace(RULES, multipliers=(Multiplier(factor=2, content_kind="job"),), daily_max=None)
    _, points, _ = run([act(1, content_kind="job"), act(2, content_kind="article")], [rules])
    assert points == [20, 10]


def test_the_version_in_force_when_the_activity_happened_scores_it() -> None:
    v3 = replace(
        RULES,
        version=3,
        effective_from=T0 + timedelta(days=1),
        points={Action.SHARE: 50},
        daily_max=None,
    )
    assert rules_at([RULES, v3], T0) is RULES
    assert rules_at([RULES, v3], T0 + timedelta(days=2)) is v3
    assert rules_at([], T0) is DEFAULT_RULES
    standing = Standing(tenant="t", employee_id="e1")
    later = apply(standing, act(1, at=T0 + timedelta(days=2)), [RULES, v3]).awards
    assert [(a.points, a.rule_version) for a in later] == [(50, 3)]


def test_award_ids_are_deterministic_per_rule_and_source_event() -> None:
    standing = Standing(tenant="t", employee_id="e1")
    first = apply(standing, act(1, content_id="c9"), [RULES]).awards
    again = apply(standing, act(1, content_id="c9"), [RULES]).awards
    assert [a.award_id for a in first] == [a.award_id for a in again]
    assert [a.rule_id for a in first] == ["share", "first-share"]
    # The first-share award is keyed on the item: a second share of it has the same id.
    other = apply(standing, act(2, content_id="c9"), [RULES]).awards
    assert other[1].award_id == first[1].award_id
    assert other[0].award_id != first[0].award_id


def test_share_milestones_and_a_streak_of_weeks_earn_badges() -> None:
    shares = [act(i, at=T0 + timedelta(weeks=i)) for i in range(4)]
    shares += [act(10 + i, at=T0 + timedelta(weeks=4, hours=i)) for i in range(6)]
    _, _, badges = run(shares, [replace(RULES, daily_max=None)])
    assert badges == ["first-share", "streak-4", "shares-10"]


def test_a_gap_week_restarts_the_streak() -> None:
    weeks = [0, 1, 2, 4, 5, 6]
    standing, _, badges = run([act(i, at=T0 + timedelta(weeks=w)) for i, w in enumerate(weeks)])
    assert standing.streak == 3 and "streak-4" not in badges


def test_a_conversion_on_a_job_post_makes_a_recruiting_hero() -> None:
    _, points, badges = run([act(1, Action.CONVERSION, content_kind="job")])
    assert points == [20] and badges == ["recruiting-hero"]


def test_a_new_month_starts_the_monthly_figure_from_zero() -> None:
    standing, _, _ = run([act(1), act(2, at=T0 + timedelta(days=31))])
    assert standing.earned == 20
    assert (standing.month_key, standing.month_points) == ("2026-04", 10)


def test_a_challenge_counts_progress_and_pays_its_bonus_once() -> None:
    challenge = Challenge(
        challenge_id="jobs",
        name="Share 3 job posts this month",
        action=Action.SHARE,
        target=3,
        starts_at=T0,
        ends_at=T0 + timedelta(days=30),
        content_kind="job",
        bonus=50,
    )
    rules = replace(RULES, daily_max=None)
    shares = [act(i, content_kind="job", at=T0 + timedelta(hours=i)) for i in range(4)]
    standing, points, _ = run([*shares, act(9, content_kind="article")], [rules], (challenge,))
    assert standing.challenges["jobs"] == 4
    assert points == [10, 10, 10, 50, 10, 10]


def test_replay_sums_what_each_employee_would_earn() -> None:
    activities = [act(1), act(2, employee="e2"), act(3, Action.CLICK, employee="e2")]
    assert replay(activities, [RULES]) == {"e1": 10, "e2": 11}
    cheaper = replace(RULES, version=9, points={Action.SHARE: 1})
    assert replay(activities, [cheaper]) == {"e1": 1, "e2": 1}
