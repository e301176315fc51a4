"""Figures from summed counters: rates, participation, earned media value, goals, periods.

Pure functions; the counters come from the read models, already summed over a slice.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any, Literal

from metrics.domain.facts import COUNTERS

Counters = Mapping[str, float]
Granularity = Literal["day", "week", "month", "year"]

FORMULAS = {
    "engagements": "clicks + reactions + comments + reshares",
    "engagement_rate": "engagements / reach",
    "click_through_rate": "unique_clicks / reach",
    "participation": "active_advocates / enrolled_advocates",
    "participation_of_employees": "active_advocates / employees",
    "shares_per_active_advocate": "shares / active_advocates",
    "conversion_rate": "conversions / unique_clicks",
    "leader_participation": "leaders_active / leaders_enrolled, the leaders being the members "
    "of the group the share service names (leaders_group)",
}


def _ratio(numerator: float, denominator: float) -> float | None:
    return round(numerator / denominator, 6) if denominator else None


def zero() -> dict[str, float]:
    return dict.fromkeys(COUNTERS, 0)


def add(total: dict[str, float], more: Counters) -> dict[str, float]:
    for name in COUNTERS:
        total[name] = total.get(name, 0) + more.get(name, 0)
    return total


def derive(
    counters: Counters,
    active_advocates: int,
    enrolled_advocates: int | None = None,
    employees: int | None = None,
) -> dict[str, Any]:
    """Every figure of one slice: its counters, then the rates built from them."""
    out: dict[str, Any] = {name: counters.get(name, 0) for name in COUNTERS}
    engagements = sum(out[n] for n in ("clicks", "reactions", "comments", "reshares"))
    out["engagements"] = engagements
    out["engagement_rate"] = _ratio(engagements, out["reach"])
    out["click_through_rate"] = _ratio(out["unique_clicks"], out["reach"])
    out["conversion_rate"] = _ratio(out["conversions"], out["unique_clicks"])
    out["active_advocates"] = active_advocates
    out["shares_per_active_advocate"] = _ratio(out["shares"], active_advocates)
    if enrolled_advocates is not None:
        out["enrolled_advocates"] = enrolled_advocates
        out["participation"] = _ratio(active_advocates, enrolled_advocates)
    if employees:
        out["employees"] = employees
        out["participation_of_employees"] = _ratio(active_advocates, employees)
    return out


def leaders(active: set[str], members: set[str], enrolled: int) -> dict[str, Any]:
    """How many of the leaders took part: those of them who shared, of those enrolled."""
    taking_part = len(active & members)
    return {
        "leaders_active": taking_part,
        "leaders_enrolled": enrolled,
        "leader_participation": _ratio(taking_part, enrolled),
    }


def change(current: Mapping[str, Any], previous: Mapping[str, Any]) -> dict[str, float | None]:
    """Relative change of every numeric figure against the previous period (0.25 = +25 %)."""
    out: dict[str, float | None] = {}
    for name, value in current.items():
        before = previous.get(name)
        if isinstance(value, int | float) and isinstance(before, int | float):
            out[name] = round((value - before) / before, 6) if before else None
    return out


# -- periods ---------------------------------------------------------------------------


def previous_period(start: date, end: date) -> tuple[date, date]:
    """The period of the same length that ends the day before `start`."""
    length = (end - start).days + 1
    return start - timedelta(days=length), start - timedelta(days=1)


def period_of(day: str, granularity: Granularity) -> str:
    """The label of the week (ISO), month or year a day (YYYY-MM-DD) belongs to."""
    if granularity == "day":
        return day
    if granularity == "month":
        return day[:7]
    if granularity == "year":
        return day[:4]
    year, week, _ = date.fromisoformat(day).isocalendar()
    return f"{year}-W{week:02d}"


def roll_up(
    by_day: Mapping[str, Counters], granularity: Granularity
) -> list[tuple[str, dict[str, float]]]:
    """Day counters summed into weeks, months or years, in time order."""
    periods: dict[str, dict[str, float]] = {}
    for day in sorted(by_day):
        add(periods.setdefault(period_of(day, granularity), zero()), by_day[day])
    return list(periods.items())


# -- advocates and content -------------------------------------------------------------

# The facts who the advocates are is told by, and those the content catalog is.
ADVOCATE_TYPES = ("advocate-enrolled", "advocate-opted-out")
CONTENT_TYPES = ("content-published", "content-updated", "content-retired")


@dataclass
class Advocate:
    employee_id: str
    groups: set[str] = field(default_factory=set)
    # Every enrollment (True) and opt-out (False), with its time.
    changes: list[tuple[datetime, bool]] = field(default_factory=list)
    department: str = ""
    location: str = ""

    def enrolled_on(self, day: date) -> bool:
        """Enrolled at the end of `day`: the latest status change by then is an enrollment."""
        past = [change for change in self.changes if change[0].date() <= day]
        return bool(past) and max(past)[1]


# Dimensions a share carries for its own fact and every engagement with it.
SHARE_DIMENSIONS = ("location", "topic")


def shares(facts: Iterable[Mapping[str, Any]]) -> dict[str, dict[str, list[str]]]:
    """Per share (from its post-shared fact): the names it counts under per share dimension.

    A share counts under one location, and under every topic of its item, as an advocate's
    figures count under every group of theirs."""
    out: dict[str, dict[str, list[str]]] = {}
    for fact in facts:
        share = fact.get("share")
        if not share:
            continue
        location = fact.get("share_location")
        out[share] = {
            "location": [location] if location else [],
            "topic": sorted(set(fact.get("topics") or ())),
        }
    return out


def advocates(facts: Iterable[Mapping[str, Any]]) -> dict[str, Advocate]:
    """Who the advocates are, from enrollment, opt-out and share facts, in any order.

    Groups are the union of those on enrollments and shares; status is the latest change.
    """
    out: dict[str, Advocate] = {}
    add_advocates(out, {}, facts)
    return out


def add_advocates(
    out: dict[str, Advocate], latest: dict[str, datetime], facts: Iterable[Mapping[str, Any]]
) -> bool:
    """`advocates`, for more facts: adds them to `out` (with `latest`, each advocate's
    latest enrollment time, kept between calls); whether any advocate changed."""
    changed = False
    for fact in facts:
        employee = fact.get("advocate") or ""
        if not employee:
            continue
        advocate = out.get(employee)
        if advocate is None:
            advocate = out[employee] = Advocate(employee)
            changed = True
        groups = fact.get("groups") or ()
        if not advocate.groups.issuperset(groups):
            advocate.groups.update(groups)
            changed = True
        at: datetime = fact["time"]
        if fact["type"] == "advocate-enrolled":
            changed = True
            advocate.changes.append((at, True))
            if employee not in latest or at >= latest[employee]:
                latest[employee] = at
                advocate.department = fact.get("department") or advocate.department
                advocate.location = fact.get("location") or advocate.location
        elif fact["type"] == "advocate-opted-out":
            changed = True
            advocate.changes.append((at, False))
    return changed


@dataclass
class ContentItem:
    content_id: str
    title: str = ""
    kind: str = ""
    campaign: str = ""
    status: str = ""
    changed_at: datetime | None = None


def catalog(facts: Iterable[Mapping[str, Any]]) -> dict[str, ContentItem]:
    """The latest known state of each content item, from content facts in any order."""
    out: dict[str, ContentItem] = {}
    for fact in sorted(facts, key=lambda f: (f["time"], f["type"] == "content-retired")):
        item = out.setdefault(fact["content"], ContentItem(fact["content"]))
        if fact["type"] == "content-retired":
            item.status = "retired"
            continue
        item.title = fact.get("title") or item.title
        item.kind = fact.get("kind") or item.kind
        item.campaign = fact.get("campaign") or item.campaign
        item.status = "published"
        item.changed_at = fact["time"]
    return out


# -- earned media value ----------------------------------------------------------------


@dataclass(frozen=True)
class Prices:
    """A tenant's price table: what the same result would have cost in paid media."""

    currency: str = "EUR"
    cpm: Mapping[str, float] = field(default_factory=dict)
    cpc: float = 0.0
    per_engagement: float = 0.0


def earned_media_value(
    prices: Prices, by_network: Mapping[str, Counters], totals: Counters
) -> dict[str, Any]:
    """EMV with its formula and each term, so a reader can check the arithmetic."""
    reach_terms = []
    reach_value = 0.0
    for network in sorted(by_network):
        reach = by_network[network].get("reach", 0)
        cpm = prices.cpm.get(network, 0.0)
        if reach and cpm:
            value = reach / 1000 * cpm
            reach_value += value
            reach_terms.append(
                {"network": network, "reach": reach, "cpm": cpm, "value": round(value, 2)}
            )
    clicks = totals.get("clicks", 0)
    engagements = sum(totals.get(n, 0) for n in ("reactions", "comments", "reshares"))
    click_value = clicks * prices.cpc
    engagement_value = engagements * prices.per_engagement
    total = reach_value + click_value + engagement_value
    shown = " + ".join(f"{t['reach']}/1000 x {t['cpm']:g}" for t in reach_terms) or "0"
    return {
        "currency": prices.currency,
        "value": round(total, 2),
        "formula": (
            "Σ per network (reach / 1000 x CPM) + clicks x CPC"
            " + (reactions + comments + reshares) x price per engagement"
        ),
        "computation": (
            f"{shown} + {clicks} x {prices.cpc:g} + {engagements} x {prices.per_engagement:g}"
            f" = {total:.2f}"
        ),
        "terms": {
            "reach": reach_terms,
            "clicks": {"clicks": clicks, "cpc": prices.cpc, "value": round(click_value, 2)},
            "engagements": {
                "engagements": engagements,
                "price": prices.per_engagement,
                "value": round(engagement_value, 2),
            },
        },
    }


# -- goals -----------------------------------------------------------------------------


def goal_progress(
    target: float, value: float, start: date, end: date, today: date
) -> dict[str, Any]:
    """How far a goal is, and whether it is on pace for its end date."""
    length = (end - start).days + 1
    elapsed = min(max((today - start).days + 1, 0), length)
    expected = target * elapsed / length
    return {
        "value": value,
        "target": target,
        "progress": _ratio(value, target),
        "expected_by_now": round(expected, 2),
        "on_track": value >= expected,
        "achieved": value >= target,
    }
