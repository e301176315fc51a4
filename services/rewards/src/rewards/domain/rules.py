"""Point rules: versioned per tenant, pure functions from an activity to the points it earns.

A tenant's rules are a list of versions, each effective from a moment on. An activity is
scored by the version in force at the time it happened, so editing the rules never changes
what was already earned, and replaying an event scores it the same way again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum


class Action(StrEnum):
    SHARE = "share"
    FIRST_SHARE = "first-share"
    CLICK = "click"
    REACTION = "reaction"
    COMMENT = "comment"
    RESHARE = "reshare"
    CONVERSION = "conversion"
    BUDDY_FEEDBACK = "buddy-feedback"
    ONBOARDING_STEP = "onboarding-step"


REASONS: dict[Action, str] = {
    Action.SHARE: "shared a post",
    Action.FIRST_SHARE: "first share of a new content item",
    Action.CLICK: "a unique click on a shared link",
    Action.REACTION: "a reaction to a shared post",
    Action.COMMENT: "a comment on a shared post",
    Action.RESHARE: "a reshare of a shared post",
    Action.CONVERSION: "a conversion from a shared link",
    Action.BUDDY_FEEDBACK: "feedback on a buddy's draft",
    Action.ONBOARDING_STEP: "a step of the onboarding path",
}

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class Multiplier:
    """Multiplies points: for a campaign in a time window, or for a content kind."""

    factor: float
    campaign_id: str | None = None
    content_kind: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None

    def applies(self, activity: Activity) -> bool:
        if self.campaign_id is not None and activity.campaign_id != self.campaign_id:
            return False
        if self.content_kind is not None and activity.content_kind != self.content_kind:
            return False
        if self.starts_at is not None and activity.at < self.starts_at:
            return False
        return not (self.ends_at is not None and activity.at >= self.ends_at)


@dataclass(frozen=True)
class RuleSet:
    """One version of a tenant's point rules."""

    version: int
    effective_from: datetime
    points: dict[Action, int]
    # Most points one action can earn an employee per UTC day.
    daily_caps: dict[Action, int] = field(default_factory=dict)
    # Most points an employee can earn per UTC day, all actions together.
    daily_max: int | None = None
    multipliers: tuple[Multiplier, ...] = ()
    # The admin who published it; None on the defaults.
    created_by: str | None = None

    def factor(self, activity: Activity) -> float:
        product = 1.0
        for multiplier in self.multipliers:
            if multiplier.applies(activity):
                product *= multiplier.factor
        return product


DEFAULT_RULES = RuleSet(
    version=1,
    effective_from=EPOCH,
    points={
        Action.SHARE: 10,
        Action.FIRST_SHARE: 0,
        Action.CLICK: 1,
        Action.REACTION: 1,
        Action.COMMENT: 2,
        Action.RESHARE: 3,
        Action.CONVERSION: 20,
        # Feedback is kindness, not a chore: a little, and not endlessly in one day.
        Action.BUDDY_FEEDBACK: 2,
        # Each step is done once (its event id is derived from the person and the step).
        Action.ONBOARDING_STEP: 3,
    },
    daily_caps={Action.CLICK: 50, Action.REACTION: 50, Action.BUDDY_FEEDBACK: 10},
    daily_max=500,
)


def rules_at(versions: Sequence[RuleSet], at: datetime) -> RuleSet:
    """The version in force at `at`: the newest one effective by then."""
    chosen = None
    for ruleset in versions:
        if ruleset.effective_from <= at and (chosen is None or ruleset.version > chosen.version):
            chosen = ruleset
    return chosen or DEFAULT_RULES


@dataclass(frozen=True)
class Activity:
    """What an employee did (or what their share received), as the rules see it."""

    event_id: str
    event_type: str
    employee_id: str
    action: Action | None
    at: datetime
    count: int = 1
    content_id: str | None = None
    content_kind: str | None = None
    campaign_id: str | None = None
    # Why an activity earns nothing whatever the rules: a bot click, self-engagement.
    excluded: str | None = None


@dataclass(frozen=True)
class Award:
    award_id: str
    employee_id: str
    points: int
    rule_id: str
    rule_version: int
    reason: str
    source_event_id: str
    source_event_type: str
    awarded_at: datetime


def day_of(at: datetime) -> str:
    return at.astimezone(UTC).date().isoformat()


def month_of(at: datetime) -> str:
    at = at.astimezone(UTC)
    return f"{at.year:04d}-{at.month:02d}"


def week_of(at: datetime) -> str:
    year, week, _ = at.astimezone(UTC).isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class DailyUse:
    """Points an employee already earned on one UTC day, per action and in total."""

    day: str = ""
    per_action: dict[str, int] = field(default_factory=dict)
    total: int = 0

    def on(self, day: str) -> DailyUse:
        return self if day == self.day else DailyUse(day=day)

    def add(self, action: Action, points: int) -> DailyUse:
        per_action = dict(self.per_action)
        per_action[action.value] = per_action.get(action.value, 0) + points
        return DailyUse(self.day, per_action, self.total + points)


def score(ruleset: RuleSet, action: Action, activity: Activity, used: DailyUse) -> int:
    """Points for one action of an activity, after multipliers, the action cap and the
    daily maximum; `used` must be the day of the activity."""
    base = ruleset.points.get(action, 0) * activity.count
    if base <= 0:
        return 0
    points = round(base * ruleset.factor(activity))
    cap = ruleset.daily_caps.get(action)
    if cap is not None:
        points = min(points, cap - used.per_action.get(action.value, 0))
    if ruleset.daily_max is not None:
        points = min(points, ruleset.daily_max - used.total)
    return max(points, 0)
