"""Network growth: what the company page and the advocates' own profiles gained over a
period, from their histories of measurements. Pure.

A history is a list of measurements (time, value). The value at a moment is the last
measurement at or before it. A period's growth compares the last value measured in the
period with its baseline: the value at its start, or, for a history that begins during
the period, its first measurement. A history not measured during the period, without a
baseline, or with a baseline of zero, tells no growth for it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

FORMULAS = {
    "company_follower_growth": "(followers at the end - followers at the start) "
    "/ followers at the start, over the company pages of the networks in the slice",
    "advocate_network_growth": "the average over advocates and their networks of "
    "(audience at the end - audience at the start) / audience at the start",
    "new_connections_per_post": "(audience at the end - audience at the start), summed over "
    "advocates and their networks / their shares in the period on those networks",
}
NAMES = tuple(FORMULAS)


@dataclass
class History:
    """One page's or one advocate's measurements on one network, oldest first."""

    points: list[tuple[datetime, float]] = field(default_factory=list)

    def add(self, at: datetime, value: float) -> None:
        self.points.append((at, value))

    def sort(self) -> None:
        self.points.sort(key=lambda p: p[0])

    def at(self, moment: datetime) -> float | None:
        """The last value measured at or before `moment`."""
        i = bisect_right(self.points, moment, key=lambda p: p[0])
        return self.points[i - 1][1] if i else None

    def span(self, start: datetime, end: datetime) -> tuple[float, float] | None:
        """(baseline, last value) of the period from `start` to `end`; None when nothing
        was measured in it (an old value says nothing about the period), or when the
        history begins in it with a single measurement."""
        inside = [value for at, value in self.points if start < at <= end]
        if not inside:
            return None
        first = self.at(start)
        if first is None:
            if len(inside) < 2:
                return None
            first = inside[0]
        return first, inside[-1]


def _key(fact: Mapping[str, Any], who: str) -> tuple[str, str]:
    return str(fact.get(who) or ""), str(fact.get("network") or "")


def histories(facts: Iterable[Mapping[str, Any]]) -> tuple[dict[Any, History], dict[Any, History]]:
    """(company pages by network, advocates by (advocate, network)) from the facts of
    followers-measured and audience-measured events."""
    pages: dict[Any, History] = {}
    audiences: dict[Any, History] = {}
    for fact in facts:
        at = fact["time"] if fact["time"].tzinfo else fact["time"].replace(tzinfo=UTC)
        if fact["type"] == "followers-measured":
            network = str(fact.get("network") or "")
            pages.setdefault(network, History()).add(at, float(fact.get("followers") or 0))
        elif fact["type"] == "audience-measured":
            audiences.setdefault(_key(fact, "advocate"), History()).add(
                at, float(fact.get("audience_size") or 0)
            )
    for history in (*pages.values(), *audiences.values()):
        history.sort()
    return pages, audiences


def bounds(first: date, last: date) -> tuple[datetime, datetime]:
    """The moments a period of days (UTC, inclusive) starts and ends."""
    start = datetime.combine(first, time(0), UTC)
    return start, datetime.combine(last + timedelta(days=1), time(0), UTC) - timedelta(
        microseconds=1
    )


def figures(
    pages: Mapping[str, History],
    audiences: Mapping[tuple[str, str], History],
    first: date,
    last: date,
    shares: Mapping[tuple[str, str], float],
    network: str | None = None,
    advocates: set[str] | None = None,
) -> dict[str, float | None]:
    """The growth figures of a period, for one network or all, and for some advocates or
    all; `shares` counts the period's shares per (advocate, network)."""
    start, end = bounds(first, last)
    before = after = 0.0
    for name, history in pages.items():
        span = history.span(start, end) if network in (None, name) else None
        if span is not None:
            before, after = before + span[0], after + span[1]
    rates: list[float] = []
    gained = 0.0
    posts = 0.0
    for (advocate, name), history in audiences.items():
        if network not in (None, name) or (advocates is not None and advocate not in advocates):
            continue
        span = history.span(start, end)
        if span is None:
            continue
        gained += span[1] - span[0]
        posts += shares.get((advocate, name), 0)
        if span[0]:
            rates.append((span[1] - span[0]) / span[0])
    return {
        "company_follower_growth": _rounded((after - before) / before) if before else None,
        "advocate_network_growth": _rounded(sum(rates) / len(rates)) if rates else None,
        "new_connections_per_post": _rounded(gained / posts) if posts else None,
    }


def _rounded(value: float) -> float:
    return round(value, 6)
