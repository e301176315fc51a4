"""Use cases of metrics: fold events into facts exactly once, and read figures from them."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from prometheus_client import Counter, Gauge, Histogram

from chassis import outbox
from chassis.auth import Principal
from chassis.consumer import Consumed
from chassis.errors import Problem
from chassis.telemetry import current_traceparent
from contracts import WinTold, WinToldData
from metrics.adapters.mongo import MetricsRepository
from metrics.domain import figures as fig
from metrics.domain import growth, wins
from metrics.domain import moments as mom
from metrics.domain.facts import (
    ENGAGEMENT_COUNTERS,
    erased_key,
    erasure_key,
    erasure_of,
    fact_id,
    fact_of,
    pseudonymized,
)

# Business metrics: per tenant and network at most, never per employee or content item.
SHARES = Counter("chorus_metrics_shares_total", "Shares counted", ["tenant", "network"])
REACH = Counter(
    "chorus_metrics_potential_reach_total",
    "Sum of audience sizes at share time",
    ["tenant", "network"],
)
ENGAGEMENTS = Counter(
    "chorus_metrics_engagements_total",
    "Engagements counted (clicks, reactions, comments, reshares, impressions, conversions)",
    ["tenant", "network", "kind"],
)
ENROLLED = Gauge("chorus_metrics_enrolled_advocates", "Advocates enrolled now", ["tenant"])
FRESHNESS = Gauge(
    "chorus_metrics_last_event_age_seconds",
    "Age of the newest event counted, at the moment it was counted",
    ["tenant"],
)

VISIBLE = Histogram(
    "chorus_metrics_event_visible_seconds",
    "From an event's creation to its fact being stored, where every figure reads it",
    ["event"],
    buckets=(0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.5, 0.75, 1, 1.5, 2.5, 5, 10, 60),
)

ENGAGEMENT_KINDS = {counter: kind.value for kind, counter in ENGAGEMENT_COUNTERS.items()}
DEFAULT_DAYS = 30
ADVOCATE_TYPES = ["advocate-enrolled", "advocate-opted-out"]
GROWTH_TYPES = ["audience-measured", "followers-measured"]


Row = tuple[tuple[str, ...], dict[str, float]]
Patterns = tuple[ZoneInfo, dict[str, mom.Pattern]]


@dataclass
class Services:
    repo: MetricsRepository
    today: Callable[[], date] = field(default=lambda: datetime.now(UTC).date())
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # The worker's, as read after its last write: the active generation, and the erased
    # advocates (erasure key -> pseudonym).
    generation: int | None = None
    erased: dict[str, str] | None = None
    # The api's engagement patterns per (tenant, weeks): they move slowly and each reads
    # weeks of facts.
    patterns: MutableMapping[tuple[str, int], Patterns] = field(default_factory=dict)
    # Where a told win's event waits until it is published.
    wins_outbox: outbox.Outbox | None = None


# -- consuming -------------------------------------------------------------------------


async def on_events(services: Services, batch: list[Consumed[Any]]) -> None:
    """Store one fact per event; a redelivered event is a duplicate and counts nothing."""
    repo = services.repo
    if services.generation is None or services.erased is None:
        services.generation = await repo.active_generation()
        services.erased = await repo.erased()
    # The pointer and the erasures as read after the previous batch, not read again: the
    # reads after the write are the ones that matter (below).
    generation, erased = services.generation, dict(services.erased)
    erasures = await record_erasures(repo, [item.event for item in batch], erased)
    facts = pseudonymized(
        [{"_id": fact_id(item.event), **fact_of(item.event)} for item in batch], erased
    )
    inserted = await repo.insert_facts(generation, facts)
    now_active, now_erased = await asyncio.gather(repo.active_generation(), repo.erased())
    written = [generation]
    # A replay may have swapped generations during the write: the batch then goes into the
    # new one too, so nothing acknowledged after the swap is missing from it.
    if now_active != generation:
        await repo.insert_facts(now_active, pseudonymized(facts, now_erased))
        written.append(now_active)
    # Another worker may have listed an erasure during the write, and already rewritten
    # the facts it found: ours, written with the id, are rewritten here.
    await erase_late(repo, written, facts, now_erased)
    # This batch's erasures reach every generation: the previous ones and one being built.
    present = await repo.generations_present() if erasures else []
    for tenant, employee, pseudonym in erasures:
        for generation_present in present:
            await repo.erase_advocate(generation_present, tenant, employee, pseudonym)
    services.generation, services.erased = now_active, now_erased
    _observe(inserted)
    created = {fact["_id"]: item.event.time for fact, item in zip(facts, batch, strict=True)}
    now = datetime.now(UTC)
    for fact in inserted:
        age = (now - created[fact["_id"]]).total_seconds()
        VISIBLE.labels(fact["type"]).observe(max(age, 0.0))


async def record_erasures(
    repo: MetricsRepository, events: list[Any], erased: dict[str, str]
) -> list[tuple[str, str, str]]:
    """List the advocates `events` ask to erase, adding them to `erased`; returns
    (tenant, employee, pseudonym) of each. Listed before any fact is rewritten, so a
    writer that reads the list after its own write misses no erasure (see `erase_late`)."""
    out = []
    for event in events:
        erasure = erasure_of(event)
        if erasure is None:
            continue
        tenant, employee, pseudonym = erasure
        key = erasure_key(tenant, employee)
        pseudonym = erased.get(key) or await repo.record_erasure(key, tenant, pseudonym)
        erased[key] = pseudonym
        out.append((tenant, employee, pseudonym))
    return out


async def erase_late(
    repo: MetricsRepository,
    generations: list[int],
    written: list[dict[str, Any]],
    erased: Mapping[str, str],
) -> None:
    """Rewrite the facts of advocates erased after `written` were pseudonymized.

    An erasure is listed first and its facts rewritten after. A writer reads the list
    after its write: if the erasure was listed by then, it is seen here; if not, the
    rewrite comes after the write and finds the facts."""
    late = {
        (fact["tenant"], fact["advocate"], erased[key])
        for fact in written
        if (key := erased_key(fact)) is not None and key in erased
    }
    for tenant, employee, pseudonym in late:
        for generation in generations:
            await repo.erase_advocate(generation, tenant, employee, pseudonym)


def _observe(inserted: list[dict[str, Any]]) -> None:
    newest: dict[str, datetime] = {}
    for fact in inserted:
        tenant, network = fact["tenant"], fact.get("network", "")
        if fact.get("shares"):
            SHARES.labels(tenant, network).inc()
            REACH.labels(tenant, network).inc(fact.get("reach", 0))
        for counter, kind in ENGAGEMENT_KINDS.items():
            if fact.get(counter):
                ENGAGEMENTS.labels(tenant, network, kind).inc(fact[counter])
        if fact["time"] > newest.get(tenant, fact["time"] - timedelta(1)):
            newest[tenant] = fact["time"]
    now = datetime.now(UTC)
    for tenant, at in newest.items():
        FRESHNESS.labels(tenant).set(max((now - at).total_seconds(), 0.0))


async def refresh_gauges(services: Services) -> None:
    """Set the enrolled-advocates gauge of every tenant."""
    repo = services.repo
    generation = await repo.active_generation()
    facts = await repo.find_facts(
        generation,
        {"type": {"$in": ADVOCATE_TYPES}},
        ("tenant", "type", "time", "advocate"),
    )
    by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for fact in facts:
        by_tenant[fact["tenant"]].append(fact)
    today = services.today()
    for tenant, items in by_tenant.items():
        people = fig.advocates(items)
        ENROLLED.labels(tenant).set(sum(a.enrolled_on(today) for a in people.values()))


# -- reading ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Slice:
    """Which facts a figure covers: a period and optional filters."""

    start: date
    end: date
    group: str | None = None
    network: str | None = None
    campaign: str | None = None
    content: str | None = None
    kind: str | None = None
    # The leaders' group, as the share service names it: their participation is a figure.
    leaders: str | None = None

    def shifted(self, start: date, end: date) -> Slice:
        return replace(self, start=start, end=end)

    def label(self) -> dict[str, Any]:
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def default_period(today: date, start: date | None, end: date | None) -> tuple[date, date]:
    """The last 30 days up to today, unless the caller says otherwise."""
    end = end or today
    return start or end - timedelta(days=DEFAULT_DAYS - 1), end


@dataclass
class People:
    advocates: dict[str, fig.Advocate]

    def members(self, group: str) -> list[str]:
        return sorted(a.employee_id for a in self.advocates.values() if group in a.groups)

    def enrolled_on(self, day: date, group: str | None = None) -> int:
        return sum(
            a.enrolled_on(day)
            for a in self.advocates.values()
            if group is None or group in a.groups
        )


class Figures:
    """Every read of the figures of one tenant, at one generation of the read models."""

    def __init__(self, services: Services, tenant: str, generation: int) -> None:
        self.repo = services.repo
        self.today = services.today()
        self.tenant = tenant
        self.generation = generation
        self._people: People | None = None
        self._settings: dict[str, Any] | None = None
        self._histories: tuple[dict[Any, growth.History], dict[Any, growth.History]] | None = None

    @classmethod
    async def open(cls, services: Services, tenant: str) -> Figures:
        return cls(services, tenant, await services.repo.active_generation())

    async def people(self) -> People:
        if self._people is None:
            facts = await self.repo.find_facts(
                self.generation,
                {"tenant": self.tenant, "type": {"$in": ADVOCATE_TYPES}},
                ("type", "time", "advocate", "groups", "department", "location"),
            )
            people = fig.advocates(facts)
            for advocate, group in await self.repo.share_groups(self.generation, self.tenant):
                people.setdefault(advocate, fig.Advocate(advocate)).groups.add(group)
            self._people = People(people)
        return self._people

    async def histories(self) -> tuple[dict[Any, growth.History], dict[Any, growth.History]]:
        """The company pages' and the advocates' audience histories, all time."""
        if self._histories is None:
            facts = await self.repo.find_facts(
                self.generation,
                {"tenant": self.tenant, "type": {"$in": GROWTH_TYPES}},
                ("type", "time", "advocate", "network", "audience_size", "followers"),
            )
            self._histories = growth.histories(facts)
        return self._histories

    async def settings(self) -> dict[str, Any]:
        if self._settings is None:
            self._settings = await self.repo.tenant_settings(self.tenant)
        return self._settings

    async def shares(self) -> dict[str, dict[str, list[str]]]:
        """Each share's location and topics, from the post-shared facts."""
        facts = await self.repo.find_facts(
            self.generation,
            {"tenant": self.tenant, "type": "post-shared", "share": {"$exists": True}},
            ("share", "share_location", "topics"),
        )
        return fig.shares(facts)

    async def prices(self) -> fig.Prices:
        return fig.Prices(**((await self.settings()).get("prices") or {}))

    async def content_items(self) -> dict[str, fig.ContentItem]:
        facts = await self.repo.find_facts(
            self.generation,
            {
                "tenant": self.tenant,
                "type": {"$in": ["content-published", "content-updated", "content-retired"]},
            },
            ("type", "time", "content", "title", "kind", "campaign"),
        )
        return fig.catalog(facts)

    async def _match(self, where: Slice) -> dict[str, Any]:
        match: dict[str, Any] = {
            "tenant": self.tenant,
            "day": {"$gte": where.start.isoformat(), "$lte": where.end.isoformat()},
        }
        for name in ("network", "campaign", "content", "kind"):
            value = getattr(where, name)
            if value is not None:
                match[name] = value
        if where.group is not None:
            match["advocate"] = {"$in": (await self.people()).members(where.group)}
        return match

    async def sums(self, where: Slice, by: tuple[str, ...]) -> list[Row]:
        return await self.repo.sums(self.generation, await self._match(where), by)

    async def figures(self, where: Slice) -> dict[str, Any]:
        """Every figure of the slice, from one pass over its facts."""
        rows = await self.sums(where, ("advocate", "network"))
        totals = fig.zero()
        by_network: dict[str, dict[str, float]] = defaultdict(fig.zero)
        active: set[str] = set()
        shares: dict[tuple[str, str], float] = {}
        for (advocate, network), counters in rows:
            fig.add(totals, counters)
            fig.add(by_network[network], counters)
            if counters.get("shares") and advocate:
                active.add(advocate)
                shares[(advocate, network)] = counters["shares"]
        people = await self.people()
        employees = None if where.group else (await self.settings()).get("employees")
        out = fig.derive(totals, len(active), people.enrolled_on(where.end, where.group), employees)
        out["earned_media_value"] = fig.earned_media_value(await self.prices(), by_network, totals)[
            "value"
        ]
        if where.leaders is not None:
            leaders = set(people.members(where.leaders))
            enrolled = sum(
                people.advocates[a].enrolled_on(where.end)
                for a in leaders
                if where.group is None or where.group in people.advocates[a].groups
            )
            out.update(fig.leaders(active, leaders, enrolled))
        pages, audiences = await self.histories()
        members = set(people.members(where.group)) if where.group is not None else None
        out.update(
            growth.figures(pages, audiences, where.start, where.end, shares, where.network, members)
        )
        return out

    async def compare(self, where: Slice) -> dict[str, Any]:
        """The slice's figures beside those of the period just before it."""
        current = await self.figures(where)
        before = where.shifted(*fig.previous_period(where.start, where.end))
        previous = await self.figures(before)
        return {
            "tenant": self.tenant,
            "period": where.label(),
            "figures": current,
            "previous_period": before.label(),
            "previous": previous,
            "change": fig.change(current, previous),
            "formulas": {**fig.FORMULAS, **growth.FORMULAS},
        }

    async def breakdown(
        self, where: Slice, dimension: str, sort: str = "shares", limit: int | None = None
    ) -> list[dict[str, Any]]:
        """Figures per content item, advocate, group, network, campaign, location or topic,
        best first."""
        people = await self.people()
        by_share = await self.shares() if dimension in fig.SHARE_DIMENSIONS else {}
        if dimension == "advocate":
            rows = await self.sums(where, ("advocate",))
            keyed = [((key[0], key[0]), counters) for key, counters in rows]
        else:
            field_name = {"group": "advocate", "location": "share", "topic": "share"}.get(
                dimension, dimension
            )
            rows = await self.sums(where, (field_name, "advocate"))
            keyed = [((key[0], key[1]), counters) for key, counters in rows]
        totals: dict[str, dict[str, float]] = defaultdict(fig.zero)
        active: dict[str, set[str]] = defaultdict(set)
        for (key, advocate), counters in keyed:
            if dimension == "group":
                advocate_groups = people.advocates.get(key)
                names = sorted(advocate_groups.groups) if advocate_groups else []
            elif dimension in fig.SHARE_DIMENSIONS:
                names = by_share.get(key, {}).get(dimension, [])
            else:
                names = [key]
            for name in names:
                if not name:
                    continue
                fig.add(totals[name], counters)
                if counters.get("shares") and advocate:
                    active[name].add(advocate)
        items = await self.content_items() if dimension == "content" else {}
        table = []
        for key, counters in totals.items():
            row: dict[str, Any] = {dimension: key}
            if dimension == "content":
                item = items.get(key)
                row["title"] = item.title if item else ""
                row["kind"] = item.kind if item else ""
            row.update(fig.derive(counters, len(active[key])))
            table.append(row)
        table.sort(key=lambda r: (-(r.get(sort) or 0), str(r[dimension])))
        return table[:limit] if limit else table

    async def series(self, where: Slice, granularity: fig.Granularity) -> list[dict[str, Any]]:
        """Figures per day, week, month or year."""
        rows = await self.sums(where, ("day", "advocate"))
        by_period: dict[str, dict[str, float]] = defaultdict(fig.zero)
        active: dict[str, set[str]] = defaultdict(set)
        for (day, advocate), counters in rows:
            period = fig.period_of(day, granularity)
            fig.add(by_period[period], counters)
            if counters.get("shares") and advocate:
                active[period].add(advocate)
        return [
            {"period": period, **fig.derive(by_period[period], len(active[period]))}
            for period in sorted(by_period)
        ]

    async def funnel(self, where: Slice) -> list[dict[str, Any]]:
        """The recruiting funnel of every job posting: reach, clicks, applications."""
        items = await self.content_items()
        rows = await self.sums(where, ("content", "kind"))
        per_job: dict[str, dict[str, float]] = defaultdict(fig.zero)
        for (content, kind), counters in rows:
            item = items.get(content)
            if content and (kind == "job" or (item is not None and item.kind == "job")):
                fig.add(per_job[content], counters)
        table = []
        for content, c in per_job.items():
            item = items.get(content)
            table.append(
                {
                    "content": content,
                    "title": item.title if item else "",
                    "shares": c["shares"],
                    "reach": c["reach"],
                    "clicks": c["clicks"],
                    "unique_clicks": c["unique_clicks"],
                    "conversions": c["conversions"],
                    "click_through_rate": fig.derive(c, 0)["click_through_rate"],
                    "conversion_rate": fig.derive(c, 0)["conversion_rate"],
                }
            )
        table.sort(key=lambda r: (-r["conversions"], -r["unique_clicks"], r["content"]))
        return table

    async def emv(self, where: Slice) -> dict[str, Any]:
        """Earned media value with its formula and terms."""
        rows = await self.sums(where, ("network",))
        totals = fig.zero()
        by_network: dict[str, dict[str, float]] = {}
        for (network,), counters in rows:
            fig.add(totals, counters)
            by_network[network] = dict(counters)
        value = fig.earned_media_value(await self.prices(), by_network, totals)
        return {"period": where.label(), **value}

    async def goals(self) -> list[dict[str, Any]]:
        """Every goal of the tenant with its progress."""
        out = []
        for goal in await self.repo.list_goals(self.tenant):
            start, end = date.fromisoformat(goal["start"]), date.fromisoformat(goal["end"])
            filters = goal.get("filters") or {}
            where = Slice(start, min(end, max(self.today, start)), **filters)
            value = (await self.figures(where)).get(goal["metric"]) or 0
            out.append(
                {
                    "id": goal["goal_id"],
                    "name": goal["name"],
                    "metric": goal["metric"],
                    "start": goal["start"],
                    "end": goal["end"],
                    "filters": filters,
                    **fig.goal_progress(goal["target"], value, start, end, self.today),
                }
            )
        return out

    async def report(self, where: Slice) -> dict[str, Any]:
        """What a program manager sends to leadership about a period."""
        compared = await self.compare(where)
        current = compared["figures"]
        emv = await self.emv(where)
        funnel = await self.funnel(where)
        goals = await self.goals()
        top_content = await self.breakdown(where, "content", "unique_clicks", 5)
        top_advocates = await self.breakdown(where, "advocate", "shares", 5)
        top_networks = await self.breakdown(where, "network", "reach", 5)
        return {
            **compared,
            "earned_media_value": emv,
            "top_content": top_content,
            "top_advocates": top_advocates,
            "top_networks": top_networks,
            "recruiting_funnel": funnel,
            "goals": goals,
            "highlights": _highlights(current, compared["change"], emv, goals),
        }


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value * 100:.1f} %"


def _highlights(
    current: Mapping[str, Any],
    change: Mapping[str, float | None],
    emv: Mapping[str, Any],
    goals: list[dict[str, Any]],
) -> list[str]:
    def moved(name: str) -> str:
        delta = change.get(name)
        if delta is None:
            return ""
        return f" ({'+' if delta >= 0 else ''}{delta * 100:.0f} % on the previous period)"

    lines = [
        f"{current['active_advocates']} active advocates shared {current['shares']} times"
        f"{moved('shares')}, reaching a potential audience of {current['reach']}{moved('reach')}.",
        f"{current['unique_clicks']} unique clicks (click-through rate "
        f"{_pct(current['click_through_rate'])}) and {current['conversions']} conversions"
        f"{moved('conversions')}.",
        f"Earned media value: {emv['value']:.2f} {emv['currency']} ({emv['computation']}).",
    ]
    if current.get("participation") is not None:
        lines.append(f"Participation: {_pct(current['participation'])} of enrolled advocates.")
    for goal in goals:
        state = "achieved" if goal["achieved"] else "on track" if goal["on_track"] else "behind"
        lines.append(
            f"Goal '{goal['name']}': {goal['value']} of {goal['target']} "
            f"({_pct(goal['progress'])}), {state}."
        )
    return lines


# -- the right moment ---------------------------------------------------------------------

MOMENT_WEEKS = 12


def audience_zone(settings: Mapping[str, Any]) -> ZoneInfo:
    """The time zone the tenant's audience lives in (checked when it is saved)."""
    return ZoneInfo(str(settings.get("time_zone") or "UTC"))


async def patterns(services: Services, tenant: str, weeks: int) -> Patterns:
    """The tenant's engagement over the last `weeks` weeks by weekday and hour, per network
    and over all of them, in the audience's time zone (kept a while: `Services.patterns`)."""
    found = services.patterns.get((tenant, weeks))
    if found is None:
        found = services.patterns[(tenant, weeks)] = await _patterns(services, tenant, weeks)
    return found


def forget_patterns(services: Services, tenant: str) -> None:
    """After a change of the tenant's settings (its time zone)."""
    for key in [key for key in services.patterns if key[0] == tenant]:
        services.patterns.pop(key, None)


async def _patterns(services: Services, tenant: str, weeks: int) -> Patterns:
    repo = services.repo
    zone = audience_zone(await repo.tenant_settings(tenant))
    since = services.today() - timedelta(weeks=weeks)
    facts = await repo.find_facts(
        await repo.active_generation(),
        {"tenant": tenant, "type": "engagement-observed", "day": {"$gte": since.isoformat()}},
        ("time", "network", *mom.ENGAGING),
    )
    engagements = (
        (
            _aware(fact["time"]),
            str(fact.get("network") or ""),
            sum(int(fact.get(name) or 0) for name in mom.ENGAGING),
        )
        for fact in facts
    )
    return zone, mom.patterns(engagements, zone)


def _aware(at: datetime) -> datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=UTC)


# -- wins told back ---------------------------------------------------------------------


def may_tell(user: Principal, settings: Mapping[str, Any]) -> bool:
    """The program team, and the people it appointed as storytellers."""
    return bool({"curator", "admin"} & set(user.roles)) or user.employee_id in (
        settings.get("storytellers") or []
    )


async def _storyteller(services: Services, user: Principal) -> None:
    if not may_tell(user, await services.repo.tenant_settings(user.tenant)):
        raise Problem(403, "Forbidden", "only the program team and its storytellers tell wins")


async def win_drafts(
    services: Services, user: Principal
) -> tuple[list[wins.Draft], list[dict[str, Any]]]:
    """The milestones worth telling now, and what was decided before."""
    await _storyteller(services, user)
    repo, tenant = services.repo, user.tenant
    generation = await repo.active_generation()
    decided = await repo.list_wins(tenant)
    totals = await repo.sums(generation, {"tenant": tenant}, ())
    today = services.today()
    since = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    rows = await repo.sums(
        generation,
        {"tenant": tenant, "day": {"$gte": since.isoformat()}, "conversions": {"$gt": 0}},
        ("day", "content", "kind"),
    )
    items = await Figures(services, tenant, generation).content_items()
    applications: dict[tuple[str, str], float] = defaultdict(float)
    for (day, content, kind), counters in rows:
        item = items.get(content)
        if content and (kind == "job" or (item is not None and item.kind == "job")):
            applications[(day[:7], content)] += counters.get("conversions", 0)
    found = wins.drafts(
        totals[0][1] if totals else {},
        applications,
        {content: item.title for content, item in items.items()},
        {str(doc["win_id"]) for doc in decided},
    )
    return found, decided


async def decide_win(
    services: Services, user: Principal, win_id: str, text: str | None
) -> dict[str, Any]:
    """Tell a drafted win (with the storyteller's words) or discard it, once."""
    drafted, decided = await win_drafts(services, user)
    if any(doc["win_id"] == win_id for doc in decided):
        raise Problem(409, "Decided already", f"win_id: {win_id} was decided already")
    draft = next((d for d in drafted if d.id == win_id), None)
    if draft is None:
        raise Problem(404, "Not found", f"win_id: no drafted win {win_id}")
    now = services.clock()
    doc: dict[str, Any] = {
        "_id": f"{user.tenant}:{win_id}",
        "tenant": user.tenant,
        "win_id": win_id,
        "milestone": draft.milestone,
        "values": draft.values,
        "status": "told" if text is not None else "discarded",
        "decided_by": user.employee_id,
        "decided_at": now,
    }
    events = []
    if text is not None:
        doc["text"] = text
        events.append(
            WinTold.create(
                tenant_id=user.tenant,
                subject=win_id,
                traceparent=current_traceparent(),
                data=WinToldData(
                    win_id=win_id,
                    milestone=draft.milestone,
                    text=text,
                    told_by=user.employee_id,
                    told_at=now,
                ),
            )
        )
    assert services.wins_outbox is not None
    stored = outbox.new_document(doc, events, services.wins_outbox.lease_seconds)
    if not await services.repo.decide_win(stored):
        raise Problem(409, "Decided already", f"win_id: {win_id} was decided already")
    await services.wins_outbox.publish_now(doc["_id"], events)
    return doc


async def summary(
    services: Services, tenant: str, start: date | None, end: date | None
) -> dict[str, float]:
    """Counter totals of a tenant, all time unless bounded."""
    repo = services.repo
    match: dict[str, Any] = {"tenant": tenant}
    if start or end:
        match["day"] = {
            op: value.isoformat() for op, value in (("$gte", start), ("$lte", end)) if value
        }
    rows = await repo.sums(await repo.active_generation(), match, ())
    return {name: value for name, value in (rows[0][1] if rows else {}).items() if value}


# -- one advocate's data, for its download -----------------------------------------------


@dataclass(frozen=True)
class MyFacts:
    """What metrics holds about one advocate: a page of the facts naming them and (on the
    first page) their totals; nothing once they were erased."""

    erased: bool
    facts: list[dict[str, Any]]
    totals: dict[str, float] | None


async def my_facts(
    services: Services, tenant: str, employee: str, after: str | None, limit: int
) -> MyFacts:
    repo = services.repo
    if await repo.is_erased(tenant, employee):
        # Their facts carry a pseudonym now; naming it here would tie it to them again.
        return MyFacts(erased=True, facts=[], totals=None)
    generation = await repo.active_generation()
    facts = await repo.facts_of_advocate(generation, tenant, employee, after, limit)
    totals = None
    if after is None:
        rows = await repo.sums(generation, {"tenant": tenant, "advocate": employee}, ())
        totals = {name: value for name, value in (rows[0][1] if rows else {}).items() if value}
    return MyFacts(erased=False, facts=facts, totals=totals)
