"""The program's analytics, figured from the metrics service's answers: pure functions.

Periods are UTC days, inclusive at both ends, as metrics counts them. A view's filters live
in its address, so a view can be bookmarked and shared.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

PRESETS = ("7d", "30d", "90d", "quarter")
PRESET_DAYS = {"7d": 7, "30d": 30, "90d": 90}
NETWORKS = ("linkedin", "x", "facebook", "xing", "instagram", "whatsapp", "email")
KINDS = ("article", "internal", "job", "event")
# The headline figures, in the order the page shows them.
LEADERS = "leader_participation"
HEADLINE = (
    "active_advocates",
    "shares",
    "clicks",
    "reach",
    "engagements",
    "earned_media_value",
    "conversions",
)
# Periods longer than this are charted per ISO week, not per day.
DAILY_UP_TO = 92
MAX_DAYS = 3660


@dataclass(frozen=True)
class View:
    """A period and its filters, as the address gives them."""

    start: date
    end: date
    preset: str = ""
    group: str = ""
    network: str = ""
    campaign: str = ""
    kind: str = ""

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous(self) -> tuple[date, date]:
        """The period of the same length that ends the day before this one starts."""
        return self.start - timedelta(days=self.days), self.start - timedelta(days=1)

    @property
    def granularity(self) -> str:
        return "day" if self.days <= DAILY_UP_TO else "week"

    def params(self) -> dict[str, str]:
        """What metrics is asked with (empty filters left out)."""
        out = {"start": self.start.isoformat(), "end": self.end.isoformat()}
        for name in ("group", "network", "campaign", "kind"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return out

    def query(self) -> str:
        """The view's address query: a preset when one was chosen, else the two days."""
        out: dict[str, str] = {"preset": self.preset} if self.preset else {}
        if not self.preset:
            out.update(start=self.start.isoformat(), end=self.end.isoformat())
        for name in ("group", "network", "campaign", "kind"):
            value = getattr(self, name)
            if value:
                out[name] = value
        return urlencode(out)


def quarter_start(day: date) -> date:
    return date(day.year, 3 * ((day.month - 1) // 3) + 1, 1)


def parse_day(value: str | None) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


def view_of(
    today: date,
    preset: str | None = None,
    start: str | None = None,
    end: str | None = None,
    group: str | None = None,
    network: str | None = None,
    campaign: str | None = None,
    kind: str | None = None,
) -> View:
    """The view an address asks for; anything unusable falls back to the last 30 days.

    Two valid days win over a preset; a preset of the last N days ends today."""
    first, last = parse_day(start), parse_day(end)
    chosen = ""
    if first is None or last is None or last < first or (last - first).days >= MAX_DAYS:
        chosen = preset if preset in PRESETS else "30d"
        last = today
        first = (
            quarter_start(today)
            if chosen == "quarter"
            else today - timedelta(days=PRESET_DAYS[chosen] - 1)
        )
    return View(
        first,
        last,
        chosen,
        (group or "").strip()[:200],
        network if network in NETWORKS else "",
        (campaign or "").strip()[:200],
        kind if kind in KINDS else "",
    )


# -- figures -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Headline:
    name: str
    value: float | None
    previous: float | None
    change: float | None  # relative: 0.25 is +25 %

    @property
    def direction(self) -> str:
        if self.change is None:
            return "new" if self.value and not self.previous else "same"
        return "up" if self.change > 0 else "down" if self.change < 0 else "same"


def headlines(compared: Mapping[str, Any], emv: float | None = None) -> list[Headline]:
    """The headline figures of metrics' /figures answer, each beside the previous period."""
    current = compared.get("figures") or {}
    previous = compared.get("previous") or {}
    change = compared.get("change") or {}
    out = []
    # Leaders' participation, when the program named its leaders' group.
    shown = HEADLINE + ((LEADERS,) if LEADERS in current else ())
    for name in shown:
        value = current.get(name)
        if name == "earned_media_value" and emv is not None:
            value = emv
        out.append(Headline(name, value, previous.get(name), change.get(name)))
    return out


def fingerprint(*parts: Any) -> str:
    """A short digest of what a live region shows: the same answers, the same digest."""
    text = json.dumps(parts, sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


# -- the time series -----------------------------------------------------------------------


def periods(start: date, end: date, granularity: str) -> list[str]:
    """Every period label metrics uses between two days: days, or ISO weeks."""
    out: list[str] = []
    day = start
    while day <= end:
        if granularity == "day":
            label = day.isoformat()
        else:
            year, week, _ = day.isocalendar()
            label = f"{year}-W{week:02d}"
        if not out or out[-1] != label:
            out.append(label)
        day += timedelta(days=1)
    return out


def filled(items: Iterable[Mapping[str, Any]], labels: Sequence[str], field_name: str) -> list[int]:
    """One figure per period label, zero where metrics has nothing."""
    found = {str(i.get("period")): i.get(field_name) or 0 for i in items}
    return [int(found.get(label, 0)) for label in labels]


@dataclass(frozen=True)
class Point:
    label: str
    value: int
    previous: int
    x: float
    y: float
    width: float
    height: float


@dataclass(frozen=True)
class Comparison:
    """A bar per period for this period and a line for the previous one (SVG units)."""

    width: int
    height: int
    top: int
    points: list[Point] = field(default_factory=list)
    line: str = ""  # the previous period's polyline points


def comparison_chart(
    labels: Sequence[str],
    current: Sequence[int],
    previous: Sequence[int],
    width: int = 640,
    height: int = 160,
) -> Comparison:
    """Bars for the period, the previous period's values as a line over them, one scale."""
    top = max([*current, *previous, 0])
    slot = width / max(len(labels), 1)
    points = []
    line = []
    for i, label in enumerate(labels):
        value = current[i] if i < len(current) else 0
        before = previous[i] if i < len(previous) else 0
        h = round(height * value / top, 2) if top else 0.0
        if value and h < 1:
            h = 1.0
        points.append(
            Point(
                label,
                value,
                before,
                round(i * slot + slot * 0.15, 2),
                round(height - h, 2),
                round(slot * 0.7, 2),
                h,
            )
        )
        y = round(height - (height * before / top if top else 0), 2)
        line.append(f"{round(i * slot + slot / 2, 2)},{y}")
    return Comparison(width, height, top, points, " ".join(line))


# -- advocates -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Advocates:
    shown: list[dict[str, Any]]
    private_count: int
    private_shares: int
    private_clicks: int


def visible_advocates(rows: Iterable[Mapping[str, Any]], visible: set[str]) -> Advocates:
    """Advocates who show themselves on leaderboards by id; the rest only as a sum.

    Metrics' advocate breakdown does not know who chose to be hidden; rewards does."""
    shown: list[dict[str, Any]] = []
    count = shares = clicks = 0
    for row in rows:
        advocate = str(row.get("advocate") or "")
        if advocate and advocate in visible:
            shown.append(dict(row))
        else:
            count += 1
            shares += int(row.get("shares") or 0)
            clicks += int(row.get("clicks") or 0)
    return Advocates(shown, count, shares, clicks)


def goal_share(goal: Mapping[str, Any]) -> float:
    """A goal's progress between 0 and 1, for a progress bar."""
    progress = goal.get("progress")
    if not isinstance(progress, int | float):
        return 0.0
    return max(0.0, min(float(progress), 1.0))
