"""My impact, figured from my shares and my points: pure functions, no I/O.

Every figure here is computed from what the services return, and the page says how:
clicks are the share service's counters of human clicks on the tracked link, engagement
is reactions, comments and reshares the networks reported, days and weeks are UTC.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from web.domain.times import parse_time

# The engagement counters that count as "engagement" (clicks are a figure of their own,
# impressions are not engagement).
ENGAGEMENT = ("reaction", "comment", "reshare")
CHART_DAYS = 90


def _counter(share: Mapping[str, Any], name: str) -> int:
    value = (share.get("engagement") or {}).get(name, 0)
    return int(value) if isinstance(value, int | float) else 0


def clicks_of(share: Mapping[str, Any]) -> int:
    """Human clicks on the share's tracked link (repeat visits included)."""
    return _counter(share, "click")


def engagement_of(share: Mapping[str, Any]) -> int:
    """Reactions, comments and reshares reported for the share."""
    return sum(_counter(share, name) for name in ENGAGEMENT)


@dataclass(frozen=True)
class Totals:
    shares: int = 0
    clicks: int = 0
    unique_clicks: int = 0
    engagement: int = 0


def totals(shares: Iterable[Mapping[str, Any]]) -> Totals:
    """Shares made (scheduled ones not yet posted are left out), clicks and engagement."""
    count = clicks = unique = engagement = 0
    for share in shares:
        if share.get("status", "shared") != "shared":
            continue
        count += 1
        clicks += clicks_of(share)
        unique += _counter(share, "unique_click")
        engagement += engagement_of(share)
    return Totals(count, clicks, unique, engagement)


@dataclass(frozen=True)
class Day:
    day: date
    shares: int
    clicks: int


def daily(shares: Iterable[Mapping[str, Any]], today: date, days: int = CHART_DAYS) -> list[Day]:
    """Shares and clicks per UTC day over the last `days` days, oldest first.

    The share service counts clicks per share, not per day: a share's clicks are on the
    day it was shared."""
    first = today - timedelta(days=days - 1)
    per_day: dict[date, list[int]] = {first + timedelta(days=i): [0, 0] for i in range(days)}
    for share in shares:
        at = parse_time(share.get("shared_at"))
        if at is None or share.get("status", "shared") != "shared":
            continue
        bucket = per_day.get(at.astimezone(UTC).date())
        if bucket is None:
            continue
        bucket[0] += 1
        bucket[1] += clicks_of(share)
    return [Day(day, s, c) for day, (s, c) in per_day.items()]


def week_start(day: date) -> date:
    """The Monday of `day`'s ISO week."""
    return day - timedelta(days=day.weekday())


def streak(shared_at: Iterable[datetime | None], today: date) -> int:
    """Consecutive weeks (Monday to Sunday, UTC) with at least one share, up to now.

    A week still under way does not break the streak: with no share yet this week, the
    streak is the one that ended last week."""
    weeks = {week_start(at.astimezone(UTC).date()) for at in shared_at if at is not None}
    current = week_start(today)
    if current not in weeks:
        current -= timedelta(weeks=1)
    count = 0
    while current in weeks:
        count += 1
        current -= timedelta(weeks=1)
    return count


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    day: date
    value: int


@dataclass(frozen=True)
class Chart:
    """A bar chart's geometry in SVG user units; the template draws it."""

    width: int
    height: int
    top: int  # the largest value, the height of the axis
    bars: list[Bar]


def bar_chart(values: Sequence[tuple[date, int]], width: int = 360, height: int = 96) -> Chart:
    """Bars for (day, value) pairs, scaled so the largest value fills the height."""
    top = max((v for _, v in values), default=0)
    slot = width / max(len(values), 1)
    bars = []
    for i, (day, value) in enumerate(values):
        h = round(height * value / top, 2) if top else 0.0
        # A non-zero day is always visible, however small next to the largest.
        if value and h < 1:
            h = 1.0
        bars.append(
            Bar(
                round(i * slot + slot * 0.15, 2),
                round(height - h, 2),
                round(slot * 0.7, 2),
                h,
                day,
                value,
            )
        )
    return Chart(width, height, top, bars)


@dataclass(frozen=True)
class Changes:
    clicks: int = 0
    points: int = 0
    shares: int = 0
    engagement: int = 0

    def __bool__(self) -> bool:
        return any((self.clicks, self.points, self.shares, self.engagement))


def changes(before: Mapping[str, int | None], now: Mapping[str, int | None]) -> Changes:
    """What grew since the figures the page last showed; unknown figures change nothing."""

    def grew(name: str) -> int:
        old, new = before.get(name), now.get(name)
        if old is None or new is None:
            return 0
        return max(new - old, 0)

    return Changes(grew("clicks"), grew("points"), grew("shares"), grew("engagement"))


def period_start(period: str, now: datetime) -> datetime | None:
    """When a leaderboard period began (UTC): this ISO week, this month, or None for all time."""
    now = now.astimezone(UTC)
    midnight = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period == "week":
        return midnight - timedelta(days=midnight.weekday())
    if period == "month":
        return midnight.replace(day=1)
    return None


def points_since(
    entries: Iterable[Mapping[str, Any]], start: datetime | None, complete: bool
) -> tuple[int, bool]:
    """Net points of ledger entries awarded from `start` on, and whether the sum is exact.

    `complete` says the entries are the whole ledger; if not, the sum is exact only when
    the oldest entry given is older than `start`."""
    total = 0
    oldest: datetime | None = None
    for entry in entries:
        at = parse_time(entry.get("awarded_at"))
        if at is None:
            continue
        oldest = at if oldest is None or at < oldest else oldest
        if start is None or at >= start:
            total += int(entry.get("points") or 0)
    exact = complete or (start is not None and oldest is not None and oldest < start)
    return total, exact


def challenge_name(reason: str) -> str:
    """The challenge's name in a bonus's reason, "completed the challenge 'Name'"."""
    first, last = reason.find("'"), reason.rfind("'")
    return reason[first + 1 : last] if 0 <= first < last else ""
