"""The retention job: engagement detail older than a tenant's retention is rolled up.

Per tenant and day older than the retention (and a grace day, see
`metrics.domain.retention`), in this order:

1. the roll-ups of the day's detail are inserted, each under an id of its group: a roll-up
   already there (written by a run that stopped before its deletion) is kept as it is;
2. every roll-up of the day, as now stored, goes to the fact log as one entry naming the
   day: an api replaces whatever engagement facts of that day it holds by them;
3. the day's detail is deleted.

A run that stops anywhere is repeated by the next one: before 3, the detail is still there
and sums to the roll-ups written; during 3, the roll-ups stay and only the rest of the
detail goes. Nothing is counted twice or lost, and a run over days already rolled up finds
no detail and does nothing. No detail arrives for a day once it is rolled up: the worker
records no engagement older than the retention, and the roll-up waits a day longer.

An api that loads the facts while a day is rolled up may see the roll-ups and the detail
both, or neither; the entry of step 2 is written before any detail is deleted and read by
the api after its scan, so it sets the day right either way (see `LiveFacts`).

Erasures apply as they do to the worker's batches: the roll-ups are pseudonymized with the
list read before their write, and the list is read again after it (`erase_late`,
`erase_in_entry`).

Only the active generation and those before it are rolled up, and only while no replay
builds the next one: a replay writes detail of its own, which a roll-up of part of it would
lose. A replay copies the roll-ups (`MetricsRepository.copy_rollups`).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from prometheus_client import Counter

from metrics.domain import retention
from metrics.domain.facts import LogEntry, RolledDay, names_erased, pseudonymized
from metrics.service_layer.handlers import Services, erase_in_entry, erase_late

log = logging.getLogger(__name__)

ROLLED_UP = Counter(
    "chorus_metrics_engagement_rolled_up_total",
    "Engagement facts replaced by roll-ups, past the tenant's retention",
    ["tenant"],
)
# Roll-ups per fact log entry at most (an entry is one document, compressed).
ENTRY_FACTS = 20_000


@dataclass
class RollUp:
    days: int = 0
    detail: int = 0
    rollups: int = 0


async def roll_up_expired(services: Services) -> RollUp:
    """Roll up every tenant's engagement detail older than its retention."""
    repo = services.repo
    active, settled, _, _ = await repo.read_pointers()
    done = RollUp()
    if not settled:
        log.info("a replay is building the next generation: engagement is rolled up after it")
        return done
    today = services.today()
    # No tenant keeps detail for less than the shortest retention: older days only.
    before = retention.rolled_before(today, retention.MIN_DAYS)
    for generation in await repo.generations_present():
        if generation > active:
            continue  # a replay's, not yet swapped in
        for tenant, days in (await repo.days_with_detail(generation, before)).items():
            days_kept = (await repo.tenant_settings(tenant)).detail_retention_days
            limit = retention.rolled_before(today, days_kept).isoformat()
            expired = [day for day in days if day < limit]
            if expired:
                await _roll_up_tenant(
                    services, generation, tenant, expired, generation == active, done
                )
    if done.days:
        log.info(
            "engagement rolled up",
            extra={"days": done.days, "detail": done.detail, "rollups": done.rollups},
        )
    return done


async def _roll_up_tenant(
    services: Services,
    generation: int,
    tenant: str,
    days: list[str],
    logged: bool,
    done: RollUp,
) -> None:
    """Roll up the tenant's `days`, a log entry (for the apis, when `logged`) for every few
    of them, each followed by the deletion of their detail."""
    repo = services.repo
    pending: list[str] = []
    rollups: list[dict[str, object]] = []
    for day in days:
        detail = (await repo.engagement_of_day(generation, tenant, day, rolled=False)).facts
        erased = await repo.erased()
        made = pseudonymized(retention.roll_up(detail), erased)
        await repo.insert_facts(generation, made)
        await erase_late(repo, [generation], made, await repo.erased())
        done.days += 1
        done.detail += len(detail)
        ROLLED_UP.labels(tenant).inc(len(detail))
        pending.append(day)
        if logged:
            rollups += (await repo.engagement_of_day(generation, tenant, day, rolled=True)).facts
        if len(rollups) >= ENTRY_FACTS:
            done.rollups += await _announce(services, tenant, pending, rollups)
            await repo.delete_detail(generation, tenant, pending)
            pending, rollups = [], []
    if pending:
        if logged:
            done.rollups += await _announce(services, tenant, pending, rollups)
        await repo.delete_detail(generation, tenant, pending)


async def _announce(
    services: Services, tenant: str, days: list[str], rollups: list[dict[str, object]]
) -> int:
    """Write the log entry that tells the apis the roll-ups of `days`; returns how many."""
    repo = services.repo
    erased = await repo.erased()
    facts = pseudonymized(rollups, erased)
    rolled = [RolledDay(tenant, day) for day in days]
    seq = await repo.append_log(facts, (), services.clock(), rolled=rolled)
    await repo.log_written(seq)
    # An erasure listed during the write rewrote the entries it found: not this one.
    now_erased = await repo.erased()
    if names_erased(facts, now_erased):
        await erase_in_entry(repo, LogEntry(seq, 0, facts, rolled=tuple(rolled)), now_erased)
    return len(facts)
