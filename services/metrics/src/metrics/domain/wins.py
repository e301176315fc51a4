"""Wins told back: the milestones of a program worth telling everyone, drafted from its
figures for a storyteller to approve, rewrite or discard. Pure.

A draft has a stable id, so a decision about it is kept: the same milestone is never
drafted twice. Texts are written where they are read (in the storyteller's language);
a draft carries the milestone's kind and numbers.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from enum import StrEnum
from typing import Any

# The round numbers a program's reach (people) and shares pass on its way.
REACH_STEPS = (10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000, 2_500_000)
SHARE_STEPS = (100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000)


@dataclass(frozen=True)
class Draft:
    id: str
    milestone: str  # reach, shares or applications
    values: dict[str, Any]


class WinStatus(StrEnum):
    TOLD = "told"
    DISCARDED = "discarded"


@dataclass(frozen=True, slots=True)
class Decision:
    """What a storyteller decided about a drafted win: told (in their words) or
    discarded; a win is decided once."""

    win_id: str
    milestone: str
    values: dict[str, Any]
    status: WinStatus
    decided_by: str
    decided_at: datetime
    text: str | None = None


def passed(total: float, steps: Iterable[int]) -> int | None:
    """The highest step `total` has reached, if any."""
    reached = [step for step in steps if total >= step]
    return max(reached) if reached else None


def month_of(day: date) -> str:
    return f"{day.year:04d}-{day.month:02d}"


def drafts(
    totals: Mapping[str, float],
    applications: Mapping[tuple[str, str], float],
    titles: Mapping[str, str],
    decided: set[str],
) -> list[Draft]:
    """What is worth telling, newest milestone first, leaving out what was decided.

    `totals` are the program's all-time counters; `applications` the job applications
    per (month, job)."""
    out: list[Draft] = []
    step = passed(totals.get("reach", 0), REACH_STEPS)
    if step is not None:
        out.append(Draft(f"reach-{step}", "reach", {"reach": step}))
    step = passed(totals.get("shares", 0), SHARE_STEPS)
    if step is not None:
        out.append(Draft(f"shares-{step}", "shares", {"shares": step}))
    for (month, job), count in sorted(applications.items(), key=lambda kv: (kv[0][0], -kv[1])):
        if count > 0:
            out.append(
                Draft(
                    f"applications-{month}-{job}",
                    "applications",
                    {
                        "month": month,
                        "content": job,
                        "title": titles.get(job, ""),
                        "applications": int(count),
                    },
                )
            )
    return [draft for draft in out if draft.id not in decided]
