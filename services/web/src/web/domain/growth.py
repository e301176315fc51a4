"""Network growth as the program team reads it: the company page's follower counts as a
line over time, and the growth figures in words. Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from typing import Any

FIGURES = (
    "company_follower_growth",
    "advocate_network_growth",
    "new_connections_per_post",
    "participation",
)


@dataclass(frozen=True)
class Mark:
    at: datetime
    followers: int
    x: float
    y: float


@dataclass(frozen=True)
class Line:
    width: int
    height: int
    low: int
    high: int
    marks: list[Mark]

    @property
    def points(self) -> str:
        return " ".join(f"{m.x},{m.y}" for m in self.marks)


def counts(items: Iterable[Mapping[str, Any]], network: str) -> list[tuple[datetime, int]]:
    """The follower counts of one network's page, oldest first."""
    out = []
    for item in items:
        if item.get("network") != network:
            continue
        try:
            at = datetime.fromisoformat(str(item["measured_at"]))
        except (KeyError, ValueError):
            continue
        out.append((at if at.tzinfo else at.replace(tzinfo=UTC), int(item.get("followers") or 0)))
    return sorted(out)


def line(
    points: list[tuple[datetime, int]],
    first: date,
    last: date,
    width: int = 640,
    height: int = 180,
    pad: int = 8,
) -> Line | None:
    """The counts of a period as a line: time across, followers up, on a scale from a
    little below the lowest to a little above the highest, so that growth shows."""
    start = datetime.combine(first, time(0), UTC)
    end = datetime.combine(last, time(23, 59, 59), UTC)
    inside = [(at, n) for at, n in points if start <= at <= end]
    if not inside:
        return None
    low, high = min(n for _, n in inside), max(n for _, n in inside)
    margin = max(1, round((high - low) * 0.1)) if high > low else max(1, round(high * 0.05))
    bottom, top = max(0, low - margin), high + margin
    span = (end - start).total_seconds() or 1.0
    marks = [
        Mark(
            at,
            n,
            round(pad + (width - 2 * pad) * (at - start).total_seconds() / span, 2),
            round(pad + (height - 2 * pad) * (1 - (n - bottom) / (top - bottom)), 2),
        )
        for at, n in inside
    ]
    return Line(width, height, bottom, top, marks)
