"""What a program team sets for its tenant: the price table earned media value is counted
with, the head count, the storytellers it appoints, the time zone its audience lives
in and how long engagement is kept in detail; and the goals it measures the program by."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from metrics.domain.figures import Prices
from metrics.domain.retention import DEFAULT_DAYS


@dataclass(frozen=True, slots=True)
class Settings:
    prices: Prices = field(default_factory=Prices)
    # All employees of the tenant, when known: participation is counted against them.
    employees: int | None = None
    # Employees appointed to tell the program's wins, besides its team.
    storytellers: tuple[str, ...] = ()
    # The IANA time zone most of the audience lives in.
    time_zone: str = "UTC"
    # Days engagement is kept in detail (each click, ...); older, it is kept rolled up.
    detail_retention_days: int = DEFAULT_DAYS


@dataclass(frozen=True, slots=True)
class Goal:
    """A figure to reach over a period, e.g. 200 applications from advocacy this year,
    of the facts its filters select (group, network, campaign, content, kind)."""

    goal_id: str
    name: str
    metric: str
    target: float
    start: date
    end: date
    filters: dict[str, str] = field(default_factory=dict)
