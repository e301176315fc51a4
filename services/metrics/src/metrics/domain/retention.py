"""How long engagement detail is kept, and what replaces it: pure functions.

Every engagement (a click, a reaction, ...) is a fact of its own: its event's id, its exact
time. Older than the tenant's retention, the engagement facts of a day are replaced by
roll-ups: one fact per group of facts alike in everything but their id, their time and
their counters, with the counters summed, the time cut to its quarter of an hour, and no
event id. Every figure is a sum of counters over dimensions and days (the right moment
reads the hour in the audience's time zone, and every zone is a whole number of quarter
hours from UTC), so every figure stays what it was.

A redelivered event whose fact was rolled up would no longer be a duplicate: engagement
events older than the retention are therefore not recorded at all (`expired`), and the
roll-up waits a day longer (`rolled_before`) so that no fact written under one reading of
the clock lands on a day already rolled up under another.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime
from typing import Any, NamedTuple

from contracts.erasure import is_pseudonym

# The setting's bounds and what is too old are every service's (share forgets its
# engagement reports by them too): one definition, in contracts.
from contracts.retention import DEFAULT_DAYS as DEFAULT_DAYS
from contracts.retention import GRACE_DAYS as GRACE_DAYS
from contracts.retention import MAX_DAYS as MAX_DAYS
from contracts.retention import MIN_DAYS as MIN_DAYS
from contracts.retention import detail_before
from contracts.retention import expired as expired
from contracts.retention import oldest_kept as oldest_kept
from metrics.domain.facts import COUNTERS, PERSONAL_FIELDS

ENGAGEMENT = "engagement-observed"
# A roll-up says how many facts it sums; detail has no such field.
ROLLED = "rolled"
# What a roll-up leaves out besides the counters it sums.
DETAIL_FIELDS = ("_id", "time", ROLLED)
# Who a fact names, which an erasure changes; not part of a roll-up's group.
NAMING_FIELDS = ("advocate", *PERSONAL_FIELDS)


class EngagementDay(NamedTuple):
    """A tenant's engagement facts of one day (detail or roll-ups), as `fact_of` and
    `roll_up` make them, with their id."""

    tenant: str
    day: str
    facts: list[dict[str, Any]]


def rolled_before(today: date, days: int) -> date:
    """Engagement detail of the days before this one is rolled up."""
    return detail_before(today, days)


def slot(at: datetime) -> datetime:
    """The start of the quarter hour `at` falls in, in UTC (a time read without its zone is
    in UTC: the same roll-up id whichever way the fact was read)."""
    at = at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
    return at.replace(minute=at.minute - at.minute % 15, second=0, microsecond=0)


def _hashable(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def group_of(fact: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    """What a roll-up keeps of a fact: every field but the detail, the counters and who the
    advocate is, and the quarter hour it happened in. The advocate is left out because an
    erasure renames them: a share (every engagement fact names one) has one advocate, so
    the group is the same whichever name its facts carry."""
    fields = {
        name: _hashable(value)
        for name, value in fact.items()
        if name not in DETAIL_FIELDS and name not in COUNTERS and name not in NAMING_FIELDS
    }
    fields["time"] = slot(fact["time"])
    return tuple(sorted(fields.items()))


def rollup_id(group: tuple[tuple[str, Any], ...]) -> str:
    """The same for the same group, whichever facts are summed into it and however often:
    a roll-up written twice is a duplicate."""
    text = json.dumps([[name, value] for name, value in group], default=str)
    return f"{ENGAGEMENT}:rolled:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def roll_up(facts: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The roll-ups of engagement facts: one per group, counters summed, in a stable order.
    A roll-up among `facts` is summed like any fact (with its `rolled` count). Where an
    erasure renamed some facts of a group and not yet the others, the roll-up takes the
    pseudonym."""
    sums: dict[tuple[tuple[str, Any], ...], dict[str, Any]] = {}
    for fact in facts:
        group = group_of(fact)
        out = sums.get(group)
        if out is None:
            out = sums[group] = {
                "_id": rollup_id(group),
                **{name: list(v) if isinstance(v, tuple) else v for name, v in group},
                **{name: fact[name] for name in NAMING_FIELDS if name in fact},
                ROLLED: 0,
            }
        elif is_pseudonym(fact.get("advocate") or "") and fact["advocate"] != out.get("advocate"):
            for name in PERSONAL_FIELDS:
                out.pop(name, None)
            out["advocate"] = fact["advocate"]
        out[ROLLED] += int(fact.get(ROLLED) or 1)
        for name in COUNTERS:
            amount = fact.get(name)
            if amount:
                out[name] = out.get(name, 0) + amount
    return sorted(sums.values(), key=lambda fact: fact["_id"])


def is_detail(fact: Mapping[str, Any]) -> bool:
    """An engagement fact of one event, not a roll-up."""
    return fact.get("type") == ENGAGEMENT and ROLLED not in fact
