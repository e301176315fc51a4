"""The audience's week, as the program team reads it: engagement per weekday and hour as a
heat table, and the busiest hours in words. Pure."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

LEVELS = 5  # shades of a cell besides empty


@dataclass(frozen=True)
class Cell:
    hour: int
    count: int
    level: int  # 0 (none) to LEVELS (the busiest hour of the week)


@dataclass(frozen=True)
class Week:
    network: str
    engagements: int
    rows: list[tuple[int, list[Cell]]]  # (weekday, Monday first) with 24 cells each
    best: list[dict[str, Any]]  # weekday, hour, share
    next: list[datetime]


def level(count: int, top: int) -> int:
    """How dark a cell is: its count against the busiest hour's, in `LEVELS` steps."""
    if count <= 0 or top <= 0:
        return 0
    return max(1, -(-count * LEVELS // top))


def week_of(data: dict[str, Any]) -> Week:
    """One network's entry of metrics' `/api/v1/moments` as a heat table."""
    hours = data.get("hours") or [[0] * 24 for _ in range(7)]
    top = max((max(row) for row in hours), default=0)
    rows = [
        (weekday, [Cell(hour, count, level(count, top)) for hour, count in enumerate(row)])
        for weekday, row in enumerate(hours)
    ]
    return Week(
        network=str(data.get("network") or ""),
        engagements=int(data.get("engagements") or 0),
        rows=rows,
        best=list(data.get("best") or []),
        next=[datetime.fromisoformat(t) for t in data.get("next") or []],
    )
