"""Use cases of rewards: scoring consumed activity exactly once, month-end badges, clawbacks,
redemptions, erasing a person."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from prometheus_client import Counter

from chassis.consumer import Consumed
from chassis.domain_errors import Conflict, NotFound
from chassis.erasure import Confirmations
from chassis.ids import new_id
from chassis.outbox import Outbox
from chassis.uow import UnitOfWork
from contracts import (
    AdvocateEnrolled,
    AdvocateOptedOut,
    AnyEvent,
    PointsAwarded,
    PostShared,
    RewardRedeemed,
    RewardRedeemedData,
    derived_event_id,
)
from contracts.erasure import is_pseudonym, pseudonym
from rewards.adapters import events as convert
from rewards.adapters.mongo import (
    RewardsRepository,
    StandingChange,
    StandingRead,
    activities_id,
    standing_id,
)
from rewards.domain.catalog import Fulfilment, Item, Spend
from rewards.domain.ledger import (
    Badge,
    Challenge,
    Clawback,
    LeaderboardChoice,
    MonthBadge,
    Standing,
    StandingRecord,
    apply,
)
from rewards.domain.months import (
    TOP_BADGE,
    MonthEnd,
    last_closed_month,
    month_end,
    month_start,
    top_badge_id,
    top_of_month,
)
from rewards.domain.rules import Action, Award, RuleSet
from rewards.domain.suggestions import erasure_key

log = logging.getLogger(__name__)

POINTS = Counter("chorus_rewards_points_awarded_total", "Points awarded", ["tenant", "rule"])
AWARDS = Counter("chorus_rewards_awards_total", "Ledger entries written", ["tenant"])
REDEMPTIONS = Counter(
    "chorus_rewards_redemptions_total", "Redemption attempts", ["tenant", "outcome"]
)

# Ledger entries per insert while a batch is scored.
LEDGER_CHUNK = 2000
FIRST_SHARE = Action.FIRST_SHARE.value


class Publisher(Protocol):
    async def publish_many(self, events: Sequence[AnyEvent]) -> None: ...


@dataclass
class TenantConfig:
    versions: list[RuleSet]
    challenges: list[Challenge]


@dataclass
class Services:
    repo: RewardsRepository
    # Where scored batches publish their events.
    publisher: Publisher
    # Events of redemptions and clawbacks, staged in the document that records them.
    unit_outbox: Outbox
    clawback_outbox: Outbox
    # Events of "top 10% of the month" badges, staged in their badge documents (needed
    # only where months are closed: workers).
    month_badge_outbox: Outbox | None = None
    config_ttl: float = 2.0
    # Tenants this worker scores; None: all.
    tenants: frozenset[str] | None = None
    # A month is closed this long after it ended, so that its late events are in.
    month_end_grace: timedelta = timedelta(hours=1)
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    # Where a use case's writes and their events land together.
    uow: Callable[[], UnitOfWork] = UnitOfWork
    # Rewards' ErasureCompleted, once an erasure is done here (None: confirms nothing).
    confirmations: Confirmations | None = None
    _configs: dict[str, tuple[float, TenantConfig]] = field(default_factory=dict)
    _closed_months: set[str] = field(default_factory=set)

    async def config(self, tenant: str) -> TenantConfig:
        cached = self._configs.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < self.config_ttl:
            return cached[1]
        settings = await self.repo.tenant(tenant)
        config = TenantConfig(versions=list(settings.rules), challenges=list(settings.challenges))
        self._configs[tenant] = (time.monotonic(), config)
        return config


def _watermark_key(item: Consumed[Any]) -> str:
    return f"{item.topic.replace('.', '_')}-{item.partition}"


def _position(item: Consumed[Any]) -> str:
    """Where an event was read: the same event published twice is at two positions."""
    return f"{item.topic}/{item.partition}/{item.offset}"


@dataclass
class _Employee:
    tenant: str
    # As the standing names them: their id, or their pseudonym once erased.
    employee_id: str
    items: list[Consumed[Any]] = field(default_factory=list)


def _person(services: Services, event: AnyEvent) -> tuple[str, str] | None:
    """The tenant and employee an event is about, if this worker scores it."""
    employee_id = getattr(event.data, "employee_id", None)
    if employee_id is None or (
        services.tenants is not None and event.tenantid not in services.tenants
    ):
        return None
    return event.tenantid, employee_id


async def _employees(
    services: Services, batch: list[Consumed[AnyEvent]]
) -> tuple[dict[str, _Employee], dict[str, StandingRead], dict[tuple[str, str], str]] | None:
    """The batch's events by employee as the standings name them, with those standings;
    and the people erased before (tenant, id -> pseudonym) whose late events it holds.
    None when no event is for this worker.

    The batch's erasures are done here, first: the events of someone erased, in this batch
    or before, count under their pseudonym."""
    people = {p for item in batch if (p := _person(services, item.event)) is not None}
    if not people:
        return None
    names: dict[tuple[str, str], str] = {}
    for item in batch:
        event, person = item.event, _person(services, item.event)
        if person is not None and isinstance(event, AdvocateOptedOut) and event.data.erase:
            names[person] = await erase_person(services, *person, event.id, event.data.opted_out_at)
    read = {standing_id(*p) for p in people if p not in names}
    docs = await services.repo.standings_of(list(read))
    # Someone erased before has no standing under their id any more (the erasure moved
    # it): only then is the list of erasures asked.
    unknown = [
        (t, e)
        for t, e in people
        if (t, e) not in names and standing_id(t, e) not in docs and not is_pseudonym(e)
    ]
    listed = await services.repo.erased_names([erasure_key(t, e) for t, e in unknown])
    erased = {(t, e): listed[erasure_key(t, e)] for t, e in unknown if erasure_key(t, e) in listed}
    late: dict[tuple[str, str], str] = {}
    employees: dict[str, _Employee] = {}
    for item in batch:
        person = _person(services, item.event)
        if person is None:
            continue
        name = names.get(person)
        if name is None and person in erased:
            # Made before their (latest) erasure: late, under the pseudonym. Made after it,
            # the person came back: theirs again.
            listed_name, erased_at = erased[person]
            if erased_at is None or item.event.time <= erased_at:
                name = late[person] = listed_name
        tenant, employee_id = person[0], name or person[1]
        key = standing_id(tenant, employee_id)
        employees.setdefault(key, _Employee(tenant, employee_id)).items.append(item)
    docs.update(await services.repo.standings_of([k for k in employees if k not in read]))
    return employees, docs, late


@dataclass
class _Scored:
    """What a batch did to one employee: their standing's change, the badges they
    earned (events) and the activities scored (kept for simulations)."""

    change: StandingChange
    badges: list[AnyEvent]
    activities: list[dict[str, Any]]


def _score(
    key: str,
    employee: _Employee,
    read: StandingRead | None,
    config: TenantConfig,
    repeats: frozenset[str] = frozenset(),
) -> _Scored | None:
    """Score the events of one employee the standing has not seen; None when it has
    seen them all. Events at the positions of `repeats` (scored before, read at another
    position) move the watermarks but score nothing."""
    marks = read.marks if read is not None else {}
    fresh = [i for i in employee.items if i.offset > marks.get(_watermark_key(i), -1)]
    if not fresh:
        return None
    tenant, employee_id = employee.tenant, employee.employee_id
    standing = read.standing(tenant, employee_id) if read else Standing(tenant, employee_id)
    profile: dict[str, Any] = {}
    entries: list[dict[str, Any]] = []
    earned_badges: dict[str, dict[str, Any]] = {}
    badges: list[AnyEvent] = []
    activities: list[dict[str, Any]] = []
    for item in fresh:
        if repeats and _position(item) in repeats:
            continue
        event = item.event
        _profile_of(event, profile)
        activity = convert.activity_of(event)
        if activity is None:
            continue
        if activity.employee_id != employee.employee_id:
            activity = replace(activity, employee_id=employee.employee_id)
        activities.append(convert.activity_doc(activity))
        outcome = apply(standing, activity, config.versions, config.challenges)
        standing = outcome.standing
        # The offset its event was read at: the copies of one event share its key, so
        # its partition; a second copy is at another offset.
        entries.extend(
            {**convert.ledger_doc(employee.tenant, a), "src": item.offset} for a in outcome.awards
        )
        for badge in outcome.badges:
            earned_badges[badge.badge] = {"name": badge.name, "earned_at": badge.earned_at}
            badges.append(convert.badge_earned(employee.tenant, badge, event.traceparent))
    if is_pseudonym(employee.employee_id):
        # Erased: on no leaderboard, and nothing learnt about who they were.
        profile = {"opted_out": True}
    new_marks = dict(marks)
    for item in fresh:
        wm = _watermark_key(item)
        new_marks[wm] = max(new_marks.get(wm, -1), item.offset)
    fields = {
        **convert.standing_fields(standing),
        **profile,
        "month_key": standing.month_key,
        "week_key": standing.week_key,
    }
    change = StandingChange(
        key=key,
        tenant=employee.tenant,
        employee_id=employee.employee_id,
        read=read,
        fields=fields,
        badges=earned_badges,
        marks=new_marks,
        moved={_watermark_key(i) for i in fresh},
        entries=entries,
    )
    return _Scored(change, badges, activities)


async def on_events(services: Services, batch: list[Consumed[AnyEvent]]) -> None:
    """Score a batch of activity exactly once per (rule, source event).

    Each standing remembers, per topic partition, the offset of the last event applied to
    it; events at or below it are skipped, and the standing is written only if those
    watermarks are still what we read. Ledger entries are keyed by award id, so a batch
    delivered again after a crash writes none twice. Each entry keeps the offset its event
    was read at: an event published twice (an outbox's relay and its api both sent it) is
    read at a second offset, beyond the watermark, and its awards are found in the ledger
    under the first one; the batch is then scored again without it (`_rescored`).

    The batch's erasures come first, and the events of someone erased (in this batch or
    before) count under their pseudonym: nothing the batch writes or publishes names them,
    however often it is delivered (see `_employees`).
    """
    found = await _employees(services, batch)
    if found is None:
        return
    employees, docs, late = found
    repo = services.repo
    configs = {t: await services.config(t) for t in {e.tenant for e in employees.values()}}

    # Ledger inserts under way, each of the entries scored since the one before: the
    # database (another process) writes them while we score on.
    inserts: list[asyncio.Future[set[str]]] = []

    async def chunked(entries: list[dict[str, Any]]) -> None:
        inserts.append(asyncio.ensure_future(repo.add_ledger_entries(entries)))
        await asyncio.sleep(0)  # lets the insert go out before we score on

    scoring = await _score_batch(employees, docs, configs, frozenset(), chunked)
    ledger = scoring.ledger

    positions = sorted(f"{i.topic}/{i.partition}/{i.offset}" for i in batch)
    batch_id = derived_event_id("batch", positions[0], positions[-1], str(len(positions)))
    traces = {i.event.id: i.event.traceparent for i in batch}

    def built(entries: list[dict[str, Any]]) -> dict[str, AnyEvent]:
        return {
            e["_id"]: convert.points_awarded(e["tenant"], e, traces.get(e["source_event_id"]))
            for e in entries
        }

    async def awarded() -> dict[str, AnyEvent]:
        # Built and sent while the database inserts (it is another process). Awards keyed
        # on their source event are the same whatever the ledger already holds, so they
        # can go before it answers: if we die, the batch comes again and sends the same
        # ids and bytes. First-share awards wait for the ledger (see below).
        await asyncio.sleep(0)
        by_id = built(ledger)
        await services.publisher.publish_many(
            [by_id[e["_id"]] for e in ledger if e["rule_id"] != FIRST_SHARE]
        )
        return by_id

    inserts.append(asyncio.ensure_future(repo.add_ledger_entries(scoring.unsent)))
    stored = asyncio.ensure_future(repo.keep_activities(batch_id, scoring.activities))
    by_award = await awarded()
    existing: set[str] = set().union(*await asyncio.gather(*inserts))
    await stored
    repeats = await _repeats(services, batch, ledger, existing)
    if repeats:
        scoring, existing, added = await _rescored(
            services, employees, docs, configs, repeats, scoring, existing, batch_id
        )
        by_award |= built(added)
        await services.publisher.publish_many(
            [by_award[e["_id"]] for e in added if e["rule_id"] != FIRST_SHARE]
        )
    changes = scoring.changes
    ledger = await _without_void_first_shares(services, scoring.ledger, changes, existing)
    events: list[AnyEvent] = [by_award[e["_id"]] for e in ledger if e["rule_id"] == FIRST_SHARE]
    events.extend(scoring.badges)
    # Published before the standings move on: if we die in between, the batch comes again,
    # finds its watermarks where they were, and publishes the same events with the same
    # ids. The consumed events are the durable log these are derived from, so no outbox.
    await services.publisher.publish_many(events)
    # Before the watermarks move, so a crash does it again (it is idempotent), never not:
    # an earlier delivery of this batch, written while the person was being erased (by
    # another worker, or the api), may have named them.
    for (tenant, employee_id), name in late.items():
        await _rename(services, tenant, employee_id, name, [activities_id(batch_id, tenant)])
    await repo.apply_standings(changes)
    _count_awards(ledger)
    await _confirm_erasures(services, batch)


async def _confirm_erasures(services: Services, batch: list[Consumed[AnyEvent]]) -> None:
    """Confirm the batch's erasures: done with its standings, so nothing rewards keeps names
    the person. Before the batch is acknowledged: a crash erases and confirms again, and
    the confirmation, keyed by request and service, goes out once."""
    if services.confirmations is None:
        return
    for item in batch:
        event = item.event
        if isinstance(event, AdvocateOptedOut) and event.data.erase:
            if _person(services, event) is not None:
                await services.confirmations.confirm(event.tenantid, event.id, services.clock())


@dataclass
class _Scoring:
    """What scoring a batch made: the standings' changes, the ledger entries (those not
    yet handed to an insert in `unsent`), the badges earned and the activities by tenant."""

    changes: list[StandingChange] = field(default_factory=list)
    ledger: list[dict[str, Any]] = field(default_factory=list)
    unsent: list[dict[str, Any]] = field(default_factory=list)
    badges: list[AnyEvent] = field(default_factory=list)
    activities: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))


async def _score_batch(
    employees: dict[str, _Employee],
    docs: dict[str, StandingRead],
    configs: dict[str, TenantConfig],
    repeats: frozenset[str],
    insert: Callable[[list[dict[str, Any]]], Awaitable[None]] | None = None,
) -> _Scoring:
    """Score every employee of the batch; every LEDGER_CHUNK entries go to `insert`."""
    scoring = _Scoring()
    for key, employee in employees.items():
        scored = _score(key, employee, docs.get(key), configs[employee.tenant], repeats)
        if scored is None:
            continue
        if scored.activities:
            scoring.activities[employee.tenant].extend(scored.activities)
        scoring.badges.extend(scored.badges)
        scoring.changes.append(scored.change)
        scoring.ledger.extend(scored.change.entries)
        scoring.unsent.extend(scored.change.entries)
        if insert is not None and len(scoring.unsent) >= LEDGER_CHUNK:
            await insert(scoring.unsent)
            scoring.unsent = []
    return scoring


async def _repeats(
    services: Services,
    batch: list[Consumed[AnyEvent]],
    ledger: list[dict[str, Any]],
    existing: set[str],
) -> frozenset[str]:
    """Positions of the batch's events whose awards the ledger holds from the same event
    read at another offset: events published twice. (Entries written before offsets were
    kept, and a first share's award, which another event can hold, tell nothing.)"""
    if not existing:
        return frozenset()
    sources = await services.repo.ledger_sources(sorted(existing))
    positions = {(i.event.id, i.offset): _position(i) for i in batch}
    repeated = set()
    for entry in ledger:
        event_id, offset = sources.get(entry["_id"], (None, None))
        if offset is not None and event_id == entry["source_event_id"] and offset != entry["src"]:
            repeated.add(positions[entry["source_event_id"], entry["src"]])
    return frozenset(repeated)


async def _rescored(
    services: Services,
    employees: dict[str, _Employee],
    docs: dict[str, StandingRead],
    configs: dict[str, TenantConfig],
    repeats: frozenset[str],
    first: _Scoring,
    existing: set[str],
    batch_id: str,
) -> tuple[_Scoring, set[str], list[dict[str, Any]]]:
    """The batch scored again without the events at `repeats`: its ledger entries that
    only those made are taken out again, those it makes now are added, and its activities
    are kept without them. Returns the new scoring, the award ids the ledger held before
    this batch, and the entries added (their awards are still to be published)."""
    repo = services.repo
    log.warning("events published twice scored once", extra={"positions": sorted(repeats)})
    scoring = await _score_batch(employees, docs, configs, repeats)
    before = {e["_id"] for e in first.ledger}
    now = {e["_id"] for e in scoring.ledger}
    orphans = sorted(before - existing - now)
    if orphans:
        # Awards a repeat made possible (a badge, a cap not yet reached): gone again. Their
        # events went out already; metrics keeps one fact per event id either way.
        log.warning("awards of a repeated event taken back", extra={"awards": orphans})
        await repo.delete_ledger_entries(orphans)
    added = [e for e in scoring.ledger if e["_id"] not in before]
    existing = existing | await repo.add_ledger_entries(added)
    await repo.forget_activities(batch_id, list(first.activities))
    await repo.keep_activities(batch_id, scoring.activities)
    return scoring, existing, added


async def _without_void_first_shares(
    services: Services,
    ledger: list[dict[str, Any]],
    changes: list[StandingChange],
    existing: set[str],
) -> list[dict[str, Any]]:
    """The batch's ledger without the first-share awards another event already took.

    Entries already there from an earlier delivery of the same events are the ones we
    computed: scoring is a function of the standing (unmoved, as its watermarks say), the
    events and rules that never change for the past. Only a first-share award can be
    there for another event (an earlier share of the same item): then ours is void, and
    leaves the standings' entries too."""
    firsts = sorted(existing & {e["_id"] for e in ledger if e["rule_id"] == FIRST_SHARE})
    if not firsts:
        return ledger
    kept = {e.award_id: e for e in await services.repo.ledger_entries(firsts)}

    def ours(entry: dict[str, Any]) -> bool:
        old = kept.get(entry["_id"])
        return old is None or old.source_event_id == entry["source_event_id"]

    for change in changes:
        change.entries[:] = [e for e in change.entries if ours(e)]
    return [e for e in ledger if ours(e)]


def _count_awards(ledger: list[dict[str, Any]]) -> None:
    awards: dict[str, int] = defaultdict(int)
    points: dict[tuple[str, str], int] = defaultdict(int)
    for entry in ledger:
        awards[entry["tenant"]] += 1
        points[entry["tenant"], entry["rule_id"]] += entry["points"]
    for tenant, count in awards.items():
        AWARDS.labels(tenant).inc(count)
    for (tenant, rule), total in points.items():
        POINTS.labels(tenant, rule).inc(total)


def _profile_of(event: AnyEvent, profile: dict[str, Any]) -> None:
    """Leaderboard scopes learnt from enrolment and shares; opted-out employees leave."""
    if isinstance(event, AdvocateEnrolled):
        data = event.data
        profile.update(
            groups=list(data.employee_groups),
            department=data.department,
            location=data.location,
            opted_out=False,
        )
    elif isinstance(event, AdvocateOptedOut):
        profile["opted_out"] = True
    elif isinstance(event, PostShared) and event.data.employee_groups:
        profile["groups"] = list(event.data.employee_groups)


async def erase_person(
    services: Services, tenant: str, employee_id: str, seed: str, at: datetime
) -> str:
    """Erase a person from rewards; returns the pseudonym that takes their place.

    What others still count stays under the pseudonym: their suggestions and votes (the
    ranking others see does not move), ledger entries and reversals (team and program
    totals, and the audit of points given, still add up), month badges, charges and
    fulfilments (the budget), the activities simulations replay, and their standing,
    which leaves every leaderboard and forgets their groups, department and location.
    Their leaderboard choices are deleted.

    The erasure is listed first (by a hash of tenant and id) with a pseudonym made from
    `seed`, something random to the request (an opt-out event's id); a retry, or a second
    erasure, finds the listing and uses the same pseudonym, so nothing counts twice; and an
    event of the person made before `at` (when they were erased) that comes late finds it
    too, while one made after it (they came back) is theirs again (see `on_events`)."""
    repo = services.repo
    name = await repo.record_erasure(erasure_key(tenant, employee_id), pseudonym(seed), at)
    await repo.pseudonymise(tenant, employee_id, name)
    await _rename(services, tenant, employee_id, name)
    return name


async def _rename(
    services: Services,
    tenant: str,
    employee_id: str,
    name: str,
    batches: Sequence[str] | None = None,
) -> None:
    """Put `name` in place of the person everywhere but their suggestions, and in the
    activities of every batch while they still have a standing (so until it is moved,
    last). With `batches` (a batch that met a late event of theirs), only in what a batch
    writes, the ledger and those batches' activities, unless the standing is still there."""
    repo = services.repo
    erased = await repo.standing(tenant, employee_id)
    if batches is None or erased is not None:
        await repo.rename_person(tenant, employee_id, name)
    else:
        await repo.rename_awards(tenant, employee_id, name)
    if erased is not None:
        await repo.rename_in_activities(tenant, {employee_id: name})
    elif batches:
        await repo.rename_in_activities(tenant, {employee_id: name}, batches)
    if erased is None:
        return
    key = erasure_key(tenant, employee_id)
    kept = await repo.standing(tenant, name)
    # Inserted or replaced before the old one is deleted: a crash in between leaves both,
    # and the retry finds this erasure folded in already and only deletes.
    if kept is None or key not in kept.folded:
        await repo.put_standing(convert.erased_standing_doc(tenant, name, erased, kept, key), kept)
    await repo.delete_standing(tenant, employee_id)


# -- the "top 10% of the month" badge ----------------------------------------------------


async def close_months(services: Services) -> int:
    """Award "top 10% of the month" for the last month that ended (UTC) at least the grace
    period ago, in every tenant this worker scores; returns the badges it emitted.

    Run periodically by every worker replica: a month is decided once per tenant (the
    first `month_ends` insert wins) and each badge is a document keyed by its award id
    that carries its event, so restarts and concurrent replicas emit each badge once."""
    month = last_closed_month(services.clock(), services.month_end_grace)
    if month in services._closed_months:
        return 0
    # Finding the month's tenants reads the month's ledger: done once per month and set
    # of tenants (a worker started later finds the mark), not at every worker start.
    scope = ",".join(sorted(services.tenants)) if services.tenants is not None else "*"
    mark = f"{month}/{derived_event_id('month-closed', scope)}"
    emitted = 0
    if not await services.repo.months_closed(mark):
        start, end = month_start(month), month_end(month)
        for tenant in await services.repo.tenants_awarded_between(start, end):
            if services.tenants is None or tenant in services.tenants:
                emitted += await close_month(services, tenant, month)
        await services.repo.mark_months_closed(mark, month, scope)
    services._closed_months.add(month)
    return emitted


async def close_month(services: Services, tenant: str, month: str) -> int:
    """Decide one tenant's month (once), then stage and publish its badges (once each)."""
    assert services.month_badge_outbox is not None, "only workers close months"
    repo = services.repo
    claim = await repo.month_end(tenant, month)
    if claim is None:
        points = await repo.net_points_between(tenant, month_start(month), month_end(month))
        decided = MonthEnd(tenant, top_of_month(month, points), services.clock())
        # Another replica decided first (perhaps on a ranking a late event had moved):
        # theirs stands, so the winners are one set whoever emits them.
        claim = decided if await repo.add_month_end(decided) else None
        claim = claim or await repo.month_end(tenant, month)
        assert claim is not None
    if claim.done:
        return 0
    box = services.month_badge_outbox
    async with services.uow() as uow:
        for employee_id, won in claim.top.winners:
            badge = Badge(
                award_id=top_badge_id(tenant, employee_id, month),
                employee_id=employee_id,
                badge=TOP_BADGE,
                name=f"Top 10% of {month}",
                earned_at=month_end(month),
                source_event_id=None,
            )
            # Staged by an earlier run that stopped: not landed now, and the relay
            # publishes it once its lease ends.
            write = repo.new_month_badge(box, tenant, badge, month, won)
            uow.add(write, [convert.badge_earned(tenant, badge, None)])
    emitted = len(uow.committed)
    await repo.finish_month_end(tenant, month)
    return emitted


# -- balances, clawbacks, redemptions --------------------------------------------------


async def balance(services: Services, tenant: str, employee_id: str) -> dict[str, int]:
    """Points earned, reversed and spent, and what is left to spend (never below zero:
    points reversed after they were spent are taken from what is earned next)."""
    repo = services.repo
    standing = await repo.standing(tenant, employee_id)
    head = await repo.last_spend(tenant, employee_id)
    earned = standing.standing.earned if standing is not None else 0
    clawed = await repo.clawed(tenant, employee_id)
    spent = head.spent if head else 0
    return {
        "earned": earned,
        "clawed_back": clawed,
        "spent": spent,
        "balance": max(earned - clawed - spent, 0),
    }


async def claw_back(services: Services, tenant: str, award_id: str, reason: str, by: str) -> Award:
    """Reverse an award: a negative ledger entry and PointsAwarded, once per award.

    Safe to retry: both documents are keyed by the award they reverse, so a retry after a
    failure writes what is missing and nothing twice."""
    entry = await services.repo.ledger_entry(tenant, award_id)
    if entry is None:
        raise NotFound(f"award_id: no award {award_id} in this tenant", title="No such award")
    if entry.points <= 0:
        raise Conflict("award_id: only positive awards can be reversed", title="Not reversible")
    reversal = Award(
        award_id=derived_event_id("clawback", award_id),
        employee_id=entry.employee_id,
        points=-entry.points,
        rule_id="clawback",
        rule_version=1,
        reason=f"reversed: {reason}",
        source_event_id=award_id,
        source_event_type=PointsAwarded.event_type(),
        awarded_at=services.clock(),
    )
    if not await services.repo.add_reversal(tenant, reversal, by):
        reversal = await services.repo.ledger_entry(tenant, reversal.award_id) or reversal
    event = convert.points_awarded(tenant, convert.ledger_doc(tenant, reversal), None)
    record = Clawback(award_id, entry.employee_id, entry.points, entry.awarded_at, reason, by)
    # A retry finds the reversal recorded: not landed again, and not published twice.
    async with services.uow() as uow:
        uow.add(services.repo.new_clawback(services.clawback_outbox, tenant, record), [event])
    return reversal


async def _charge(services: Services, tenant: str, charge: Spend) -> bool:
    """Append a charge (or, with negative points, a refund) to the employee's spends:
    `charge` numbered and totalled after the last one."""
    repo, employee_id, points = services.repo, charge.employee_id, charge.points
    for _ in range(100):
        head = await repo.last_spend(tenant, employee_id)
        seq, spent = (head.seq, head.spent) if head else (0, 0)
        if points > 0:
            standing = await repo.standing(tenant, employee_id)
            earned = standing.standing.earned if standing is not None else 0
            credit = earned - await repo.clawed(tenant, employee_id)
            if spent + points > credit:
                return False
        # Of two charges taking the same number only one lands; the other reads again.
        if await repo.add_spend(tenant, replace(charge, seq=seq + 1, spent=spent + points)):
            return True
    raise Conflict("too many redemptions at once; try again", title="Busy")


async def _take_unit(services: Services, tenant: str, item: Item, event: AnyEvent) -> bool:
    """Append a sold unit to the item's chain, with its event, if one is left."""
    repo = services.repo
    for _ in range(100):
        seq = await repo.units_sold(tenant, item.item_id)
        if seq + 1 > item.capacity:
            return False
        # Of two redemptions taking the same number only one lands; the other reads again.
        async with services.uow() as uow:
            uow.add(repo.new_unit(services.unit_outbox, tenant, item.item_id, seq + 1), [event])
        if uow.committed:
            return True
    raise Conflict("too many redemptions at once; try again", title="Busy")


async def redeem(services: Services, tenant: str, employee_id: str, item_id: str) -> dict[str, Any]:
    """Spend points on a catalog item: never below a zero balance, never oversold.

    The points are charged first; if no unit is left they are refunded. A crash between
    the two leaves the points charged and no unit sold, never a unit sold twice."""
    item = await services.repo.item(tenant, item_id)
    if item is None:
        raise NotFound(f"item_id: no item {item_id} in the catalog", title="No such item")
    redemption_id = new_id()
    now = services.clock()
    charge = Spend(
        employee_id=employee_id,
        seq=0,
        points=item.price,
        spent=0,
        redemption_id=redemption_id,
        item_id=item_id,
        name=item.name,
        at=now,
    )
    if not await _charge(services, tenant, charge):
        REDEMPTIONS.labels(tenant, "insufficient").inc()
        raise Conflict(f"item_id: {item_id} costs {item.price} points", title="Not enough points")
    event = RewardRedeemed.create(
        tenant_id=tenant,
        subject=employee_id,
        event_id=redemption_id,
        data=RewardRedeemedData(
            redemption_id=redemption_id,
            employee_id=employee_id,
            item_id=item_id,
            item_name=item.name,
            points=item.price,
            redeemed_at=now,
        ),
    )
    if not await _take_unit(services, tenant, item, event):
        refund = replace(charge, points=-item.price, name=None, refund=True)
        await _charge(services, tenant, refund)
        REDEMPTIONS.labels(tenant, "out-of-stock").inc()
        raise Conflict(f"item_id: {item_id} is out of stock", title="Out of stock")
    REDEMPTIONS.labels(tenant, "redeemed").inc()
    return {
        "redemption_id": redemption_id,
        "item_id": item_id,
        "at": now,
        "name": item.name,
        "points": item.price,
    }


async def redemptions_of(services: Services, tenant: str, employee_id: str) -> list[dict[str, Any]]:
    """What an employee redeemed, newest first; an attempt refunded (out of stock) is not one."""
    links = await services.repo.spends_of(tenant, employee_id)
    refunded = {link.redemption_id for link in links if link.refund}
    names = {item.item_id: item.name for item in await services.repo.items(tenant)}
    return [
        {
            "redemption_id": link.redemption_id,
            "item_id": link.item_id,
            # The name when redeemed; charges written before it was kept take today's.
            "name": _name_of(link, names),
            "points": link.points,
            "at": link.at,
        }
        for link in reversed(links)
        if link.redemption_id and link.points > 0 and link.redemption_id not in refunded
    ]


def _name_of(link: Spend, names: dict[str, str]) -> str | None:
    """The item's name when redeemed; charges written before it was kept take today's."""
    if link.name or link.item_id is None:
        return link.name
    return names.get(link.item_id, link.item_id)


def _redemption(link: Spend, names: dict[str, str]) -> dict[str, Any]:
    return {
        "redemption_id": link.redemption_id,
        "employee_id": link.employee_id,
        "item_id": link.item_id,
        "name": _name_of(link, names),
        "points": link.points,
        "at": link.at,
    }


def _with_status(redemption: dict[str, Any], done: Fulfilment | None) -> dict[str, Any]:
    return {
        **redemption,
        "status": "fulfilled" if done else "to_fulfil",
        "fulfilled_at": done.fulfilled_at if done else None,
        "fulfilled_by": done.fulfilled_by if done else None,
    }


async def tenant_redemptions(services: Services, tenant: str) -> list[dict[str, Any]]:
    """Every redemption of the tenant, newest first, each with whether it was fulfilled;
    an attempt refunded (out of stock) is not one."""
    repo = services.repo
    links = await repo.tenant_redemption_links(tenant)
    refunded = {link.redemption_id for link in links if link.refund}
    names = {item.item_id: item.name for item in await repo.items(tenant)}
    done = await repo.fulfilments_of(tenant)
    found = [
        _with_status(_redemption(link, names), done.get(link.redemption_id or ""))
        for link in links
        if link.points > 0 and link.redemption_id not in refunded
    ]
    return sorted(found, key=lambda r: (r["at"], r["redemption_id"]), reverse=True)


async def fulfil(services: Services, tenant: str, redemption_id: str, by: str) -> dict[str, Any]:
    """Mark a redemption as handed over, once: the mark is an insert keyed by the
    redemption, so a retry or a second admin gets the first mark back, never a second."""
    repo = services.repo
    links = await repo.tenant_redemption_links(tenant, redemption_id)
    charge = next((link for link in links if link.points > 0), None)
    if charge is None or any(link.refund for link in links):
        raise NotFound(f"redemption_id: no redemption {redemption_id}", title="No such redemption")
    names = {item.item_id: item.name for item in await repo.items(tenant)}
    redemption = _redemption(charge, names)
    mark = Fulfilment(redemption_id, charge.employee_id, services.clock(), by)
    await repo.add_fulfilment(tenant, mark)
    # The stored mark (whoever's got in first), as the database keeps its time.
    mark = await repo.fulfilment(tenant, redemption_id) or mark
    return _with_status(redemption, mark)


@dataclass(frozen=True)
class ChallengeProgress:
    """What an employee did towards a challenge; `challenge` None when the tenant no
    longer lists it."""

    challenge_id: str
    progress: int
    challenge: Challenge | None = None


@dataclass(frozen=True)
class MyRewards:
    """What rewards holds about one employee: a page of their ledger and, on the first
    page, everything else (standing, badges, challenges, spending, leaderboard choices)."""

    ledger: list[Award]
    balance: dict[str, int] | None = None
    standing: StandingRecord | None = None
    month_badges: list[MonthBadge] | None = None
    challenges: list[ChallengeProgress] | None = None
    redemptions: list[dict[str, Any]] | None = None
    spends: list[Spend] | None = None
    profile: LeaderboardChoice | None = None


async def my_rewards(
    services: Services,
    tenant: str,
    employee_id: str,
    limit: int,
    after: tuple[datetime, str] | None,
) -> MyRewards:
    """The caller's own data for its download."""
    repo = services.repo
    ledger = await repo.ledger_page(tenant, employee_id, limit, after)
    if after is not None:
        return MyRewards(ledger)
    standing = await repo.standing(tenant, employee_id)
    progress = standing.standing.challenges if standing is not None else {}
    known = {c.challenge_id: c for c in (await repo.tenant(tenant)).challenges}
    # Described as the tenant lists them; progress on one no longer listed is shown bare.
    challenges = [ChallengeProgress(c, n, known.get(c)) for c, n in sorted(progress.items())]
    return MyRewards(
        ledger,
        balance=await balance(services, tenant, employee_id),
        standing=standing,
        month_badges=await repo.month_badges_of(tenant, employee_id),
        challenges=challenges,
        redemptions=await redemptions_of(services, tenant, employee_id),
        spends=await repo.spends_of(tenant, employee_id),
        profile=await repo.profile(tenant, employee_id),
    )


async def add_challenge(services: Services, tenant: str, challenge: Challenge) -> None:
    """Start a challenge; 409 naming the id when the tenant has one of that id already."""
    taken = Conflict(f"challenge_id: {challenge.challenge_id} exists")
    known = (await services.repo.tenant(tenant)).challenges
    if any(c.challenge_id == challenge.challenge_id for c in known):
        raise taken
    # The check above only answers early; the insert decides between concurrent requests.
    if not await services.repo.add_challenge(tenant, challenge):
        raise taken


async def save_item(services: Services, tenant: str, item_id: str, fields: dict[str, Any]) -> None:
    """Stock is what is left to sell now: on top of the units already sold."""
    sold = await services.repo.units_sold(tenant, item_id)
    item = Item(item_id, fields["name"], fields["price"], capacity=sold + fields["stock"])
    await services.repo.save_item(tenant, item, fields["stock"])


async def stock_left(services: Services, tenant: str, item: Item) -> int:
    """Units of an item left to sell."""
    return item.capacity - await services.repo.units_sold(tenant, item.item_id)
