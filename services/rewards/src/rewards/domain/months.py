"""The "top 10% of the month" badge: who gets it once a month has ended.

Pure rules over the net points each employee earned in the month (awards dated in the
month, less those of them that were clawed back):

- only employees with more than 0 net points are ranked; nobody else qualifies;
- the places are 10% of the ranked employees, rounded down, but at least one, so a month
  in which anyone earned has a winner;
- the cutoff is the points of the last place; everyone with at least that many qualifies,
  so employees tied at the cutoff all get the badge (there can be more winners than
  places, never fewer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from contracts import derived_event_id

TOP_BADGE = "top-10-percent"
TOP_SHARE = 0.10


@dataclass(frozen=True)
class MonthTop:
    month: str
    ranked: int
    places: int
    cutoff: int
    # Winners and their net points, best first (ties by employee id).
    winners: list[tuple[str, int]]


def top_of_month(month: str, points: Mapping[str, int], share: float = TOP_SHARE) -> MonthTop:
    """The employees whose net points put them in the top `share` of the month."""
    ranked = sorted(((e, p) for e, p in points.items() if p > 0), key=lambda ep: (-ep[1], ep[0]))
    if not ranked:
        return MonthTop(month, 0, 0, 0, [])
    places = max(1, int(len(ranked) * share))
    cutoff = ranked[places - 1][1]
    winners = [(e, p) for e, p in ranked if p >= cutoff]
    return MonthTop(month, len(ranked), places, cutoff, winners)


def month_start(month: str) -> datetime:
    return datetime(int(month[:4]), int(month[5:7]), 1, tzinfo=UTC)


def next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year + number // 12}-{number % 12 + 1:02d}"


def previous_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:7])
    return f"{year - 1}-12" if number == 1 else f"{year}-{number - 1:02d}"


def month_end(month: str) -> datetime:
    """The first moment after the month (UTC)."""
    return month_start(next_month(month))


def last_closed_month(now: datetime, grace: timedelta) -> str:
    """The latest month that ended at least `grace` before `now`."""
    return previous_month((now.astimezone(UTC) - grace).strftime("%Y-%m"))


def top_badge_id(tenant: str, employee_id: str, month: str) -> str:
    """Once per employee and month, whoever computes it."""
    return derived_event_id("badge", tenant, employee_id, f"{TOP_BADGE}:{month}")


@dataclass(frozen=True, slots=True)
class MonthEnd:
    """A tenant's decision for an ended month, taken once; `done` once its badges are
    staged."""

    tenant: str
    top: MonthTop
    decided_at: datetime
    done: bool = False
