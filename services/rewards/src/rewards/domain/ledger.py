"""An employee's standing, and how each activity moves it: awards, badges, challenges.

`apply` is a pure function of the employee's state, the activity, the tenant's rule
versions and challenges. The same inputs give the same awards with the same ids, which is
what makes a replayed event count exactly once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

from contracts import derived_event_id
from rewards.domain.rules import (
    REASONS,
    Action,
    Activity,
    Award,
    DailyUse,
    RuleSet,
    day_of,
    month_of,
    rules_at,
    score,
    week_of,
)

# Daily usage is kept for this many days; an activity older than that earns nothing,
# so a late delivery cannot get around a cap that is long forgotten. Shares and their
# engagements come on different topics, so one can run well ahead of the other.
DAYS_KEPT = 62
SHARE_MILESTONES = (10, 50, 100)
STREAK_WEEKS = 4


@dataclass(frozen=True)
class Challenge:
    """A time-boxed goal: `target` activities of one kind in [starts_at, ends_at).

    Only activity after the challenge was created counts, so replaying an event gives the
    same progress whenever the challenge was added."""

    challenge_id: str
    name: str
    action: Action
    target: int
    starts_at: datetime
    ends_at: datetime
    content_kind: str | None = None
    bonus: int = 0
    created_at: datetime | None = None

    def counts(self, activity: Activity) -> bool:
        opened = max(self.starts_at, self.created_at or self.starts_at)
        return (
            activity.action == self.action
            and opened <= activity.at < self.ends_at
            and (self.content_kind is None or activity.content_kind == self.content_kind)
        )


@dataclass(frozen=True)
class Badge:
    award_id: str
    employee_id: str
    badge: str
    name: str
    earned_at: datetime
    source_event_id: str | None


@dataclass(frozen=True)
class Standing:
    """What the rules need to know about one employee, and their leaderboard figures."""

    tenant: str
    employee_id: str
    earned: int = 0
    month_key: str = ""
    month_points: int = 0
    week_key: str = ""
    week_points: int = 0
    days: dict[str, DailyUse] = field(default_factory=dict)
    shares: int = 0
    streak: int = 0
    streak_week: str = ""
    badges: frozenset[str] = frozenset()
    challenges: dict[str, int] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    standing: Standing
    awards: list[Award]
    badges: list[Badge]


def _monday(week: str) -> date:
    return date.fromisocalendar(int(week[:4]), int(week[6:]), 1)


def badge_id(tenant: str, employee_id: str, badge: str) -> str:
    return derived_event_id("badge", tenant, employee_id, badge)


def _earned(standing: Standing, activity: Activity, points: int) -> dict[str, Any]:
    """The figures `points` more move, as fields of the standing."""
    if points == 0:
        return {}
    month, week = month_of(activity.at), week_of(activity.at)
    month_key, month_points = standing.month_key, standing.month_points
    if month > month_key:
        month_key, month_points = month, 0
    if month == month_key:
        month_points += points
    week_key, week_points = standing.week_key, standing.week_points
    if week > week_key:
        week_key, week_points = week, 0
    if week == week_key:
        week_points += points
    return {
        "earned": standing.earned + points,
        "month_key": month_key,
        "month_points": month_points,
        "week_key": week_key,
        "week_points": week_points,
    }


def _earn(standing: Standing, activity: Activity, points: int) -> Standing:
    return replace(standing, **_earned(standing, activity, points))


def _award(
    activity: Activity, rule_id: str, version: int, points: int, reason: str, once_per: str = ""
) -> Award:
    return Award(
        # One award per (rule, source event), whatever the version: a replay finds it taken.
        # `once_per` keys it on something else instead (one first share per content item).
        award_id=derived_event_id(rule_id, once_per or activity.event_id),
        employee_id=activity.employee_id,
        points=points,
        rule_id=rule_id,
        rule_version=version,
        reason=reason,
        source_event_id=activity.event_id,
        source_event_type=activity.event_type,
        # The activity's time, not the clock's: a replay writes the very same entry.
        awarded_at=activity.at,
    )


def _score_actions(
    standing: Standing, activity: Activity, ruleset: RuleSet
) -> tuple[Standing, list[Award]]:
    if activity.action is None or activity.excluded:
        return standing, []
    day = day_of(activity.at)
    if standing.days and day < min(standing.days):
        return standing, []
    actions = [activity.action]
    if activity.action is Action.SHARE and activity.content_id is not None:
        actions.append(Action.FIRST_SHARE)
    used = standing.days.get(day, DailyUse(day=day))
    awards = []
    total = 0
    for action in actions:
        points = score(ruleset, action, activity, used)
        if points <= 0:
            continue
        used = used.add(action, points)
        total += points
        once_per = ""
        if action is Action.FIRST_SHARE:
            # Keyed on the employee and the item: the ledger keeps the first one only.
            once_per = f"{standing.tenant}:{standing.employee_id}:{activity.content_id}"
        awards.append(
            _award(activity, action.value, ruleset.version, points, REASONS[action], once_per)
        )
    days = {**standing.days, day: used}
    if len(days) > DAYS_KEPT:
        days = {d: days[d] for d in sorted(days)[-DAYS_KEPT:]}
    # One copy of the standing per activity: all its awards share its moment.
    return replace(standing, days=days, **_earned(standing, activity, total)), awards


def _share_progress(standing: Standing, activity: Activity) -> Standing:
    week = week_of(activity.at)
    streak, streak_week = standing.streak, standing.streak_week
    if not streak_week or week > streak_week:
        following = streak_week and _monday(week) - _monday(streak_week) == timedelta(weeks=1)
        streak = streak + 1 if following else 1
        streak_week = week
    return replace(
        standing,
        shares=standing.shares + 1,
        streak=streak,
        streak_week=streak_week,
    )


def _badges_due(standing: Standing, activity: Activity) -> list[tuple[str, str]]:
    due: list[tuple[str, str]] = []
    if activity.action is Action.SHARE:
        if standing.shares >= 1:
            due.append(("first-share", "First share"))
        due.extend((f"shares-{n}", f"{n} shares") for n in SHARE_MILESTONES if standing.shares >= n)
        if standing.streak >= STREAK_WEEKS:
            due.append((f"streak-{STREAK_WEEKS}", f"{STREAK_WEEKS} weeks in a row with a share"))
    if activity.action is Action.CONVERSION and activity.content_kind in (None, "job"):
        due.append(("recruiting-hero", "Recruiting hero"))
    return [(badge, name) for badge, name in due if badge not in standing.badges]


def _challenges(
    standing: Standing, activity: Activity, challenges: Sequence[Challenge]
) -> tuple[Standing, list[Award]]:
    counted = [c for c in challenges if c.counts(activity)]
    if not counted:
        return standing, []
    progress = dict(standing.challenges)
    awards = []
    for challenge in counted:
        before = progress.get(challenge.challenge_id, 0)
        progress[challenge.challenge_id] = before + 1
        if before < challenge.target <= before + 1 and challenge.bonus > 0:
            award = _award(
                activity,
                f"challenge:{challenge.challenge_id}",
                1,
                challenge.bonus,
                f"completed the challenge '{challenge.name}'",
            )
            awards.append(award)
            standing = _earn(standing, activity, challenge.bonus)
    return replace(standing, challenges=progress), awards


def apply(
    standing: Standing,
    activity: Activity,
    versions: Sequence[RuleSet],
    challenges: Sequence[Challenge] = (),
) -> Outcome:
    """The awards and badges one activity earns, and the employee's standing after it."""
    ruleset = rules_at(versions, activity.at)
    standing, awards = _score_actions(standing, activity, ruleset)
    if activity.excluded:
        return Outcome(standing, awards, [])
    if activity.action is Action.SHARE:
        standing = _share_progress(standing, activity)
    standing, bonus = _challenges(standing, activity, challenges)
    badges = [
        Badge(
            award_id=badge_id(standing.tenant, standing.employee_id, badge),
            employee_id=standing.employee_id,
            badge=badge,
            name=name,
            earned_at=activity.at,
            source_event_id=activity.event_id,
        )
        for badge, name in _badges_due(standing, activity)
    ]
    if badges:
        standing = replace(standing, badges=standing.badges | {b.badge for b in badges})
    return Outcome(standing, awards + bonus, badges)


def _later(one: tuple[str, int], other: tuple[str, int]) -> tuple[str, int]:
    """A period's figure from two: summed for the same period, else the later period's."""
    if one[0] == other[0]:
        return one[0], one[1] + other[1]
    return max(one, other)


def merged(one: Standing, other: Standing) -> Standing:
    """One employee's standing from two halves: what was kept under their id and what
    came in under their pseudonym (an erasure puts both under the pseudonym).

    Points, shares, daily use and challenge progress add up; badges are earned once; the
    streak is the one of the later week. Tenant and employee are `one`'s."""
    days = dict(one.days)
    for day, use in other.days.items():
        mine = days.get(day, DailyUse(day=day))
        per_action = dict(mine.per_action)
        for action, points in use.per_action.items():
            per_action[action] = per_action.get(action, 0) + points
        days[day] = DailyUse(day, per_action, mine.total + use.total)
    if len(days) > DAYS_KEPT:
        days = {d: days[d] for d in sorted(days)[-DAYS_KEPT:]}
    month_key, month_points = _later(
        (one.month_key, one.month_points), (other.month_key, other.month_points)
    )
    week_key, week_points = _later(
        (one.week_key, one.week_points), (other.week_key, other.week_points)
    )
    streak_week, streak = max((one.streak_week, one.streak), (other.streak_week, other.streak))
    challenges = dict(one.challenges)
    for challenge, progress in other.challenges.items():
        challenges[challenge] = challenges.get(challenge, 0) + progress
    return replace(
        one,
        earned=one.earned + other.earned,
        month_key=month_key,
        month_points=month_points,
        week_key=week_key,
        week_points=week_points,
        days=days,
        shares=one.shares + other.shares,
        streak=streak,
        streak_week=streak_week,
        badges=one.badges | other.badges,
        challenges=challenges,
    )


def replay(
    activities: Sequence[Activity],
    versions: Sequence[RuleSet],
    challenges: Sequence[Challenge] = (),
    tenant: str = "",
) -> dict[str, int]:
    """Points per employee that `activities` (in order) earn under `versions`, from scratch."""
    standings: dict[str, Standing] = {}
    totals: dict[str, int] = {}
    for activity in activities:
        employee = activity.employee_id
        standing = standings.get(employee) or Standing(tenant=tenant, employee_id=employee)
        outcome = apply(standing, activity, versions, challenges)
        standings[employee] = outcome.standing
        totals[employee] = totals.get(employee, 0) + sum(a.points for a in outcome.awards)
    return totals


@dataclass(frozen=True, slots=True)
class EarnedBadge:
    """A badge earned for good, as an employee's standing keeps it."""

    name: str
    earned_at: datetime


@dataclass(frozen=True, slots=True)
class StandingRecord:
    """An employee's standing as kept: what the rules need (`standing`), the badges
    earned for good with their names and times, what was learnt about the person from
    events (groups, department, location, whether they opted out), per topic partition
    the offset of the last event applied (`marks`), and the erasures folded into it.

    `month_key` and `week_key` are the periods its figures were written for, None when
    none was written yet (the standing's `Standing` then says "")."""

    standing: Standing
    badges: dict[str, EarnedBadge] = field(default_factory=dict)
    marks: dict[str, int] = field(default_factory=dict)
    month_key: str | None = None
    week_key: str | None = None
    groups: tuple[str, ...] = ()
    department: str | None = None
    location: str | None = None
    opted_out: bool = False
    folded: tuple[str, ...] = ()


@dataclass(slots=True)
class Figures:
    """One employee's row of a tenant's leaderboards: their points, the periods of their
    month's and week's figures, the scopes they are ranked in, and their own choices
    (hidden, opted in). Not frozen: a snapshot moves a row in place when they choose."""

    employee_id: str
    earned: int = 0
    month_key: str | None = None
    month_points: int = 0
    week_key: str | None = None
    week_points: int = 0
    groups: tuple[str, ...] = ()
    department: str | None = None
    location: str | None = None
    opted_out: bool = False
    hidden: bool = False
    opted_in: bool = False


@dataclass(frozen=True, slots=True)
class LeaderboardChoice:
    """What an employee chose: hidden from leaderboards or not, and (None: never said)
    whether they take part where leaderboards are opt-in."""

    hidden: bool = False
    opt_in: bool | None = None


@dataclass(frozen=True, slots=True)
class Clawback:
    """An award reversed: the points taken back from `employee_id`, dated as the award
    was, why and by which admin."""

    award_id: str
    employee_id: str
    points: int
    awarded_at: datetime
    reason: str
    by: str


@dataclass(frozen=True, slots=True)
class MonthBadge:
    """A "top of the month" badge won, with the net points that won it."""

    award_id: str
    employee_id: str
    badge: str
    name: str
    month: str
    points: int
    earned_at: datetime


@dataclass(frozen=True, slots=True)
class TenantSettings:
    """A tenant's rule versions (oldest first; none: the defaults), its challenges, and
    its leaderboard settings."""

    rules: tuple[RuleSet, ...] = ()
    challenges: tuple[Challenge, ...] = ()
    leaderboard_opt_in: bool = False
    executive_groups: tuple[str, ...] = ()
