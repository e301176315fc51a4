"""When a network's audience engages: a tenant's own engagement by weekday and hour, in the
audience's time zone, and the times to suggest to someone scheduling a share. Pure.

Candidates read before 9 and after 17 while recruiters work 9 to 17, so no fixed rule
fits every program: each tenant's pattern is learned from its own clicks, reactions,
comments and reshares, and a suggestion is made only once there is enough of them.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import NamedTuple
from zoneinfo import ZoneInfo

# What counts as the audience engaging (impressions do not: they are not a person acting).
ENGAGING = ("clicks", "reactions", "comments", "reshares")
WEEKDAYS = 7  # Monday is 0, as in `datetime.weekday()`
HOURS = 24
# Below this many engagements a pattern is noise: no time is suggested.
ENOUGH = 30
# A suggested time is at least this far ahead, so that there is time to write the post.
LEAD = timedelta(minutes=15)
ALL = "all"


class Engagement(NamedTuple):
    """The audience engaging with a share: when, on which network, how many times."""

    at: datetime
    network: str
    times: int


@dataclass
class Pattern:
    """Engagement of one network (or of all) per weekday and hour, in one time zone."""

    counts: list[list[int]] = field(default_factory=lambda: [[0] * HOURS for _ in range(WEEKDAYS)])

    @property
    def total(self) -> int:
        return sum(map(sum, self.counts))

    def add(self, weekday: int, hour: int, count: int) -> None:
        self.counts[weekday][hour] += count

    def best(self, n: int = 3) -> list[tuple[int, int]]:
        """The `n` busiest (weekday, hour) slots, busiest first; none below `ENOUGH`.

        Ties go to the earlier slot in the week, so the answer is stable."""
        if self.total < ENOUGH:
            return []
        slots = [
            (count, weekday, hour)
            for weekday, hours in enumerate(self.counts)
            for hour, count in enumerate(hours)
            if count > 0
        ]
        slots.sort(key=lambda s: (-s[0], s[1], s[2]))
        return [(weekday, hour) for _, weekday, hour in slots[:n]]

    def share_of(self, weekday: int, hour: int) -> float:
        """The slot's part of the pattern's engagement, 0 to 1."""
        total = self.total
        return self.counts[weekday][hour] / total if total else 0.0


def patterns(
    engagements: Iterable[tuple[datetime, str, int]], zone: ZoneInfo
) -> dict[str, Pattern]:
    """Per network, and over all of them under `ALL`, the engagement of
    (time, network, count) triples by weekday and hour of `zone`."""
    out: dict[str, Pattern] = {ALL: Pattern()}
    for at, network, count in engagements:
        if count <= 0:
            continue
        local = at.astimezone(zone)
        for key in (network, ALL):
            out.setdefault(key, Pattern()).add(local.weekday(), local.hour, count)
    return out


def next_times(
    slots: Sequence[tuple[int, int]], now: datetime, zone: ZoneInfo, lead: timedelta = LEAD
) -> list[datetime]:
    """The next time each (weekday, hour) slot begins in `zone`, at least `lead` after
    `now`, soonest first. Each is a wall-clock hour of the zone: where a change of
    clocks skips it, the first moment after the gap."""
    earliest = now + lead
    local_now = earliest.astimezone(zone)
    out = []
    for weekday, hour in slots:
        days = (weekday - local_now.weekday()) % WEEKDAYS
        for extra in (0, WEEKDAYS):
            day = local_now.date() + timedelta(days=days + extra)
            candidate = datetime(day.year, day.month, day.day, hour, tzinfo=zone)
            # A wall-clock time that does not exist (skipped by a change of clocks)
            # normalises forward through UTC.
            candidate = candidate.astimezone(ZoneInfo("UTC")).astimezone(zone)
            if candidate >= earliest:
                out.append(candidate)
                break
    return sorted(out)
