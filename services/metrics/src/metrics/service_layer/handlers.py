"""Use cases of metrics: fold events into facts exactly once; the reads that stay on the
database (totals, a person's own data, wins, the right moment). Figures: `reading`."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from cachetools import LRUCache, TTLCache
from prometheus_client import Counter, Gauge, Histogram

from chassis.auth import Principal
from chassis.consumer import Consumed
from chassis.domain_errors import Conflict, Forbidden, NotFound
from chassis.erasure import Confirmations
from chassis.telemetry import current_traceparent
from chassis.uow import UnitOfWork
from contracts import EngagementObserved, WinTold, WinToldData
from metrics.adapters.mongo import MetricsRepository
from metrics.domain import moments as mom
from metrics.domain import retention, wins
from metrics.domain.facts import (
    ENGAGEMENT_COUNTERS,
    Fact,
    LogEntry,
    erasure_key,
    erasure_of,
    fact_id,
    fact_of,
    late_erasures,
    names_erased,
    pseudonymized,
)
from metrics.domain.period import check_order
from metrics.domain.program import Settings

if TYPE_CHECKING:
    # The api's live figures, over numpy: the worker's processes load neither.
    from metrics.adapters.live import LiveFacts
    from metrics.service_layer.reading import Derived

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

EXPIRED = Counter(
    "chorus_metrics_engagements_expired_total",
    "Engagement events not recorded: older than the tenant keeps engagement in detail",
    ["tenant"],
)

# Slices kept by the api: a page asks for its period and the one before it.
SELECTIONS_KEPT = 16
# Answers kept by the api until a fact comes in: a page's dozen, for a few hundred views.
ANSWERS_KEPT = 2048
ENGAGEMENT_KINDS = {counter: kind.value for kind, counter in ENGAGEMENT_COUNTERS.items()}


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
    # Metrics' ErasureCompleted, once an erasure is done here (None: confirms nothing).
    confirmations: Confirmations | None = None
    # The api's engagement patterns per (tenant, weeks): they move slowly and each reads
    # weeks of facts.
    patterns: MutableMapping[tuple[str, int], Patterns] = field(default_factory=dict)
    # Days each tenant keeps engagement in detail, as read a minute ago at most: a change
    # reaches the worker well within the grace day (`metrics.domain.retention`).
    retention_days: MutableMapping[str, int] = field(
        default_factory=lambda: TTLCache(maxsize=100_000, ttl=60)
    )
    # A unit of work per use case that writes (tests give one they can look into).
    uow: Callable[[], UnitOfWork] = UnitOfWork
    # The api's: the facts in memory, and what figures keep of them.
    live: LiveFacts | None = None
    derived: Derived = field(default_factory=dict)
    selections: MutableMapping[Any, tuple[Any, Any]] = field(
        default_factory=lambda: LRUCache(maxsize=SELECTIONS_KEPT)
    )
    answers: MutableMapping[Any, tuple[Any, Any]] = field(
        default_factory=lambda: LRUCache(maxsize=ANSWERS_KEPT)
    )


# -- consuming -------------------------------------------------------------------------


async def on_events(services: Services, batch: list[Consumed[Any]]) -> None:
    """Store one fact per event; a redelivered event is a duplicate and counts nothing."""
    repo = services.repo
    batch = await within_retention(services, batch)
    if not batch:
        return
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
    # The log entry and the facts are written together. An api reads the facts once, at
    # its load, and the log from then on, and counts a fact it already holds once (see
    # `LiveFacts`): whichever write lands first, the batch reaches it. If this process
    # stops between the two, the batch comes again and both are written then. The log
    # names the erased by key: it is kept a while, and read by every api.
    logged = [
        (tenant, erasure_key(tenant, employee), alias) for tenant, employee, alias in erasures
    ]
    seq, inserted = await asyncio.gather(
        repo.append_log(facts, logged, services.clock()), repo.insert_facts(generation, facts)
    )
    # The head hint tells the apis to read on: moved beside the reads after the write.
    now_active, now_erased, _ = await asyncio.gather(
        repo.active_generation(), repo.erased(), repo.log_written(seq)
    )
    written = [generation]
    # A replay may have swapped generations during the write: the batch then goes into the
    # new one too, so nothing acknowledged after the swap is missing from it.
    if now_active != generation:
        await repo.insert_facts(now_active, pseudonymized(facts, now_erased))
        written.append(now_active)
    # Another worker may have listed an erasure during the write, and already rewritten
    # the facts and log entries it found: ours, written with the id, are rewritten here.
    await erase_late(repo, written, facts, now_erased)
    if erasures:
        # This batch's erasures reach the log first (it is read by every api, and kept a
        # short while), then wins and settings, then every generation (the previous ones
        # and one being built): slow on FerretDB, so last.
        await erase_in_log(repo, now_erased)
        for tenant, employee, pseudonym in erasures:
            await repo.erase_person(tenant, employee, pseudonym)
    elif names_erased(facts, now_erased):
        await erase_in_entry(repo, LogEntry(seq, 0, facts), now_erased)
    present = await repo.generations_present() if erasures else []
    for tenant, employee, pseudonym in erasures:
        for generation_present in present:
            await repo.erase_advocate(generation_present, tenant, employee, pseudonym)
    if erasures and services.confirmations is not None:
        # Every generation rewritten: nothing metrics stores names them. Before the batch is
        # acknowledged, so a crash rewrites and confirms again (once: see chassis.erasure).
        for item in batch:
            if erasure_of(item.event) is not None:
                await services.confirmations.confirm(
                    item.event.tenantid, item.event.id, services.clock()
                )
    services.generation, services.erased = now_active, now_erased
    _observe(facts[i] for i in inserted)
    now = datetime.now(UTC)
    for i in inserted:
        age = (now - batch[i].event.time).total_seconds()
        VISIBLE.labels(facts[i]["type"]).observe(max(age, 0.0))


async def within_retention(services: Services, batch: list[Consumed[Any]]) -> list[Consumed[Any]]:
    """The batch without engagement older than its tenant keeps in detail: its fact may
    have been rolled up already, and a redelivered event would then be counted again
    (`metrics.domain.retention`)."""
    today = services.today()
    kept = []
    for item in batch:
        event = item.event
        if isinstance(event, EngagementObserved):
            days = services.retention_days.get(event.tenantid)
            if days is None:
                settings = await services.repo.tenant_settings(event.tenantid)
                days = services.retention_days[event.tenantid] = settings.detail_retention_days
            if retention.expired(event.data.observed_at.date(), today, days):
                EXPIRED.labels(event.tenantid).inc()
                continue
        kept.append(item)
    return kept


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
    for tenant, employee, pseudonym in late_erasures(written, erased):
        for generation in generations:
            await repo.erase_advocate(generation, tenant, employee, pseudonym)


async def erase_in_log(repo: MetricsRepository, erased: Mapping[str, str]) -> int:
    """Write again, pseudonymized, every log entry whose facts still name an advocate in
    `erased`; returns how many were rewritten.

    Called after the erasure's own entry is written: an api applies entries in order, so
    it is told of the erasure after whichever version of an earlier entry it read, and a
    fact (keyed by its event, not by advocate) counts once either way. An entry written
    after this read by a worker that had not seen the erasure is that worker's to rewrite:
    it reads the list after its write (`on_events`), as for its facts (`erase_late`)."""
    rewritten = 0
    for entry in await repo.log_entries():
        rewritten += await erase_in_entry(repo, entry, erased)
    return rewritten


async def erase_in_entry(
    repo: MetricsRepository, entry: LogEntry, erased: Mapping[str, str]
) -> int:
    """Rewrite one log entry if it names an erased advocate; 1 if it was rewritten.

    Two writers may rewrite one entry at once (two erasures): each write is conditional on
    the version it read, and the loser reads the entry again, so neither undoes the other."""
    found: LogEntry | None = entry
    while found is not None and names_erased(found.facts, erased):
        if await repo.rewrite_log_entry(found.seq, found.rev, pseudonymized(found.facts, erased)):
            return 1
        found = await repo.log_entry(found.seq)
    return 0


def _observe(inserted: Iterable[dict[str, Any]]) -> None:
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
    advocates = await repo.advocates(await repo.active_generation())
    today = services.today()
    for tenant, people in advocates.items():
        ENROLLED.labels(tenant).set(sum(a.enrolled_on(today) for a in people.values()))


# -- the right moment ---------------------------------------------------------------------

MOMENT_WEEKS = 12


def audience_zone(settings: Settings) -> ZoneInfo:
    """The time zone the tenant's audience lives in (checked when it is saved)."""
    return ZoneInfo(settings.time_zone or "UTC")


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
    engagements = await repo.engagements_since(await repo.active_generation(), tenant, since)
    return zone, mom.patterns(engagements, zone)


# -- wins told back ---------------------------------------------------------------------


def may_tell(user: Principal, settings: Settings) -> bool:
    """The program team, and the people it appointed as storytellers."""
    return bool({"curator", "admin"} & set(user.roles)) or (
        user.employee_id in settings.storytellers
    )


async def _storyteller(services: Services, user: Principal) -> None:
    if not may_tell(user, await services.repo.tenant_settings(user.tenant)):
        raise Forbidden("only the program team and its storytellers tell wins")


async def win_drafts(
    services: Services, user: Principal
) -> tuple[list[wins.Draft], list[wins.Decision]]:
    """The milestones worth telling now, and what was decided before."""
    await _storyteller(services, user)
    repo, tenant = services.repo, user.tenant
    generation = await repo.active_generation()
    today = services.today()
    since = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    # Four reads that do not depend on each other: one wait, not four in a row.
    decided, totals, rows, items = await asyncio.gather(
        repo.list_wins(tenant),
        repo.totals(generation, tenant),
        repo.conversions_per_day_and_content(generation, tenant, since),
        repo.content_items(generation, tenant),
    )
    applications: dict[tuple[str, str], float] = defaultdict(float)
    for (day, content, kind), counters in rows:
        item = items.get(content)
        if content and (kind == "job" or (item is not None and item.kind == "job")):
            applications[(day[:7], content)] += counters.get("conversions", 0)
    found = wins.drafts(
        totals,
        applications,
        {content: item.title for content, item in items.items()},
        {decision.win_id for decision in decided},
    )
    return found, decided


async def decide_win(
    services: Services, user: Principal, win_id: str, text: str | None
) -> wins.Decision:
    """Tell a drafted win (with the storyteller's words) or discard it, once."""
    drafted, decided = await win_drafts(services, user)
    if any(decision.win_id == win_id for decision in decided):
        raise _decided_already(win_id)
    draft = next((d for d in drafted if d.id == win_id), None)
    if draft is None:
        raise NotFound(f"win_id: no drafted win {win_id}")
    now = services.clock()
    decision = wins.Decision(
        win_id=win_id,
        milestone=draft.milestone,
        values=draft.values,
        status=wins.WinStatus.TOLD if text is not None else wins.WinStatus.DISCARDED,
        decided_by=user.employee_id,
        decided_at=now,
        text=text,
    )
    events = []
    if text is not None:
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
    try:
        async with services.uow() as uow:
            uow.add(services.repo.win_decided(user.tenant, decision), events)
    except Conflict:  # decided by someone else since it was read
        raise _decided_already(win_id) from None
    return decision


def _decided_already(win_id: str) -> Conflict:
    return Conflict(f"win_id: {win_id} was decided already", title="Decided already")


async def summary(
    services: Services, tenant: str, start: date | None, end: date | None
) -> dict[str, float]:
    """Counter totals of a tenant, all time unless bounded; the zeros left out."""
    check_order(start, end)
    repo = services.repo
    totals = await repo.totals(await repo.active_generation(), tenant, start=start, end=end)
    return {name: value for name, value in totals.items() if value}


# -- one advocate's data, for its download -----------------------------------------------


@dataclass(frozen=True)
class MyFacts:
    """What metrics holds about one advocate: a page of the facts naming them and (on the
    first page) their totals; nothing once they were erased."""

    erased: bool
    facts: list[Fact]
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
        counted = await repo.totals(generation, tenant, advocate=employee)
        totals = {name: value for name, value in counted.items() if value}
    return MyFacts(erased=False, facts=facts, totals=totals)


# -- goals -----------------------------------------------------------------------------


async def delete_goal(services: Services, tenant: str, goal_id: str) -> None:
    """Remove a program goal; `NotFound` if the tenant has none by that id."""
    if not await services.repo.delete_goal(tenant, goal_id):
        raise NotFound(f"goal_id: no goal {goal_id!r}")
