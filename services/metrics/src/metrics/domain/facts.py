"""What each event contributes to the read models, as one fact: pure functions.

A fact is the event reduced to what measurement needs: where it happened (tenant, day,
advocate, content item, network, campaign) and the counters it moves. Facts are keyed by
their event, so counting an event twice is impossible: the second insert is a duplicate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple

from contracts import (
    AdvocateEnrolled,
    AdvocateOptedOut,
    AnyEvent,
    AudienceMeasured,
    BadgeEarned,
    BuddyFeedbackGiven,
    BuddyFeedbackKind,
    ContentPublished,
    ContentRetired,
    ContentUpdated,
    EngagementKind,
    EngagementObserved,
    FollowersMeasured,
    GuidelinesAcknowledged,
    GuidelinesPublished,
    OnboardingStepCompleted,
    PointsAwarded,
    PostShared,
    RewardRedeemed,
)
from contracts.erasure import is_pseudonym, person_key, pseudonym

# Every counter a fact can carry; figures are sums of these over a slice of facts.
COUNTERS = (
    "shares",
    "reach",
    "clicks",
    "unique_clicks",
    "reactions",
    "comments",
    "reshares",
    "impressions",
    "conversions",
    "points",
    "content_published",
    "badges",
    "redemptions",
    "enrollments",
    "opt_outs",
    "guidelines_acknowledged",
    # Buddies' comments and reactions on each other's drafts, and cheers on their shares.
    "buddy_feedback",
    "buddy_cheers",
    # Steps of the onboarding path done, and paths finished (the step that completed one).
    "onboarding_steps",
    "onboarding_completed",
)

ENGAGEMENT_COUNTERS: dict[EngagementKind, str] = {
    EngagementKind.CLICK: "clicks",
    EngagementKind.REACTION: "reactions",
    EngagementKind.COMMENT: "comments",
    EngagementKind.RESHARE: "reshares",
    EngagementKind.IMPRESSION: "impressions",
    EngagementKind.CONVERSION: "conversions",
}


# What an erased advocate's facts lose besides their id: descriptions of the person.
PERSONAL_FIELDS = ("department", "location")


def fact_id(event: AnyEvent) -> str:
    # The topic is part of the key: ids are unique per producer, not across event types.
    # The key names the event, never the advocate (event ids are random or digests), so a
    # fact keeps it through an erasure and is counted once whichever version is read.
    return f"{event.event_name}:{event.id}"


@dataclass(frozen=True, slots=True)
class Fact:
    """One stored fact as the advocate it names reads it in their own data: the event it
    was made from, where it happened, what it says of them, and the counters it moves
    (those it leaves at zero left out)."""

    id: str  # `<event>:<event id>`, as `fact_id` makes it
    type: str
    time: datetime
    day: str
    content: str | None = None
    network: str | None = None
    campaign: str | None = None
    kind: str | None = None
    groups: list[str] = field(default_factory=list)
    department: str | None = None
    location: str | None = None
    share_location: str | None = None
    topics: list[str] = field(default_factory=list)
    status: str | None = None
    badge: str | None = None
    version: int | None = None
    counters: dict[str, int] = field(default_factory=dict)


def fact_of(event: AnyEvent) -> dict[str, Any]:
    """The fact document of `event` (without its `_id`)."""
    at, dims, counters, extra = _describe(event)
    fact: dict[str, Any] = {
        "tenant": event.tenantid,
        "type": event.event_name,
        "time": at,
        "day": at.date().isoformat(),
    }
    # Empty dimensions and zero counters are left out: facts are many, and small is fast.
    fact.update({name: value for name, value in dims.items() if value})
    fact.update({name: value for name, value in counters.items() if value})
    fact.update({name: value for name, value in extra.items() if value})
    return fact


def _describe(
    event: AnyEvent,
) -> tuple[datetime, dict[str, str], dict[str, int], dict[str, Any]]:
    if isinstance(event, PostShared):
        d = event.data
        return (
            d.shared_at,
            {
                "advocate": d.employee_id,
                "content": d.content_id or "",
                "network": d.network.value,
                "campaign": d.campaign_id or "",
                "share": d.share_id,
            },
            {"shares": 1, "reach": d.audience_size},
            {
                "groups": sorted(set(d.employee_groups)),
                "kind": _kind(d.content_kind),
                # Where the sharer was and what the item is about; like groups, not personal
                # fields: an erasure keeps them (hence not `location`, the enrollment's).
                "share_location": d.employee_location or "",
                "topics": sorted(set(d.content_topics)),
            },
        )
    if isinstance(event, EngagementObserved):
        e = event.data
        name = ENGAGEMENT_COUNTERS[e.kind]
        counters = {name: e.count}
        if e.kind is EngagementKind.CLICK and e.unique:
            counters["unique_clicks"] = e.count
        return (
            e.observed_at,
            {
                "advocate": e.employee_id,
                "content": e.content_id or "",
                "network": e.network.value,
                "campaign": e.campaign_id or "",
                # The share's location and topics count for its engagement, through this.
                "share": e.share_id,
            },
            counters,
            {"kind": _kind(e.content_kind)},
        )
    if isinstance(event, PointsAwarded):
        p = event.data
        return p.awarded_at, {"advocate": p.employee_id}, {"points": p.points}, {}
    if isinstance(event, ContentPublished | ContentUpdated):
        c = event.data
        return (
            event.time,
            {"content": c.content_id, "campaign": c.campaign_id or ""},
            {"content_published": 1 if isinstance(event, ContentPublished) else 0},
            {"title": c.title, "kind": c.kind.value, "status": "published"},
        )
    if isinstance(event, ContentRetired):
        r = event.data
        return r.retired_at, {"content": r.content_id}, {}, {"status": "retired"}
    if isinstance(event, AdvocateEnrolled):
        a = event.data
        return (
            event.time,
            {"advocate": a.employee_id},
            {"enrollments": 1},
            {
                "groups": sorted(set(a.employee_groups)),
                "status": "enrolled",
                "department": a.department or "",
                "location": a.location or "",
            },
        )
    if isinstance(event, AdvocateOptedOut):
        o = event.data
        # An erasure of someone outside the program is no opt-out of it.
        left = {"opt_outs": 1} if o.member else {}
        return o.opted_out_at, {"advocate": o.employee_id}, left, {"status": "opted-out"}
    if isinstance(event, BadgeEarned):
        b = event.data
        return b.earned_at, {"advocate": b.employee_id}, {"badges": 1}, {"badge": b.badge}
    if isinstance(event, RewardRedeemed):
        r2 = event.data
        return r2.redeemed_at, {"advocate": r2.employee_id}, {"redemptions": 1}, {}
    if isinstance(event, GuidelinesAcknowledged):
        g = event.data
        return (
            g.acknowledged_at,
            {"advocate": g.employee_id},
            {"guidelines_acknowledged": 1},
            {"version": g.guidelines_version},
        )
    if isinstance(event, OnboardingStepCompleted):
        ob = event.data
        return (
            ob.completed_at,
            {"advocate": ob.employee_id},
            {"onboarding_steps": 1, "onboarding_completed": int(ob.path_completed)},
            {"step": ob.step_id, "path_version": ob.path_version},
        )
    if isinstance(event, BuddyFeedbackGiven):
        bf = event.data
        cheer = bf.kind is BuddyFeedbackKind.CHEER
        return (
            bf.given_at,
            {"advocate": bf.employee_id},
            {"buddy_cheers": 1} if cheer else {"buddy_feedback": 1},
            # Not `kind`: that is the content kind that figures are broken down by.
            {"feedback_kind": bf.kind.value},
        )
    if isinstance(event, AudienceMeasured):
        m = event.data
        return (
            m.measured_at,
            {"advocate": m.employee_id, "network": m.network.value},
            {},
            {"audience_size": m.audience_size, "source": m.source.value},
        )
    if isinstance(event, FollowersMeasured):
        f = event.data
        return (
            f.measured_at,
            {"network": f.network.value},
            {},
            {"followers": f.followers, "source": f.source.value},
        )
    if isinstance(event, GuidelinesPublished):
        return event.data.published_at, {}, {}, {"version": event.data.version}
    return event.time, {}, {}, {}


def _kind(kind: Any) -> str:
    return str(kind.value) if kind is not None else ""


# -- erasure ---------------------------------------------------------------------------


def erasure_key(tenant: str, employee: str) -> str:
    """How metrics knows an erased advocate wherever it must not name them (the list of
    erased advocates, the fact log's erasures): the platform's `person_key`, a hash."""
    return person_key(tenant, employee)


def erasure_of(event: AnyEvent) -> tuple[str, str, str] | None:
    """(tenant, employee, pseudonym) if `event` asks for an advocate's erasure.

    The pseudonym is the platform's, from the opt-out event's id: the same for the worker,
    every replay and every other service, and not computable from the employee id."""
    if isinstance(event, AdvocateOptedOut) and event.data.erase:
        return event.tenantid, event.data.employee_id, pseudonym(event.id)
    return None


def erased_key(fact: Mapping[str, Any]) -> str | None:
    """The erasure key of the advocate a fact names, if it names one by their id."""
    advocate = fact.get("advocate")
    if not advocate or is_pseudonym(advocate):
        return None
    return erasure_key(fact["tenant"], advocate)


def pseudonymized(
    facts: Sequence[dict[str, Any]], erased: Mapping[str, str]
) -> list[dict[str, Any]]:
    """`facts` with every erased advocate's id replaced by their pseudonym and their
    personal fields left out; counters, groups, days and networks stay as they are."""
    if not erased:
        return list(facts)
    out = []
    for fact in facts:
        key = erased_key(fact)
        if key is not None and key in erased:
            fact = {k: v for k, v in fact.items() if k not in PERSONAL_FIELDS}
            fact["advocate"] = erased[key]
        out.append(fact)
    return out


def late_erasures(
    facts: Iterable[Mapping[str, Any]], erased: Mapping[str, str]
) -> set[tuple[str, str, str]]:
    """(tenant, employee, pseudonym) of every advocate in `erased` whom one of `facts`
    still names by their id: facts written before their erasure was seen."""
    return {
        (fact["tenant"], fact["advocate"], erased[key])
        for fact in facts
        if (key := erased_key(fact)) is not None and key in erased
    }


def names_erased(facts: Sequence[Mapping[str, Any]], erased: Mapping[str, str]) -> bool:
    """Whether any of `facts` still names an erased advocate by their id (and so is to be
    written again, `pseudonymized`)."""
    return bool(erased) and any(
        (key := erased_key(fact)) is not None and key in erased for fact in facts
    )


# -- the fact log ------------------------------------------------------------------------


class LoggedErasure(NamedTuple):
    """An erasure as the fact log tells it: the advocate by erasure key, never by id."""

    tenant: str
    key: str
    pseudonym: str


class RolledDay(NamedTuple):
    """A day of a tenant whose engagement detail was replaced by roll-ups."""

    tenant: str
    day: str


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One batch of the worker's, as the fact log keeps it for the apis to read on: its
    number, the version it is at (each rewrite raises it; None before versions were
    kept), its facts as `fact_of` made them (with their id) and the erasures it asked for.

    An entry of the retention job instead names the days it rolled up (`rolled`), and its
    facts are every roll-up of those days: they replace whatever engagement facts of those
    days an api holds (`metrics.service_layer.retention`)."""

    seq: int
    rev: int | None
    facts: list[dict[str, Any]]
    erasures: tuple[LoggedErasure, ...] = ()
    rolled: tuple[RolledDay, ...] = ()
