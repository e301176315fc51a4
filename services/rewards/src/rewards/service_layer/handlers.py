"""Use cases of rewards: scoring consumed activity exactly once, clawbacks, redemptions."""

from __future__ import annotations

import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from chassis import outbox
from chassis.consumer import Consumed
from chassis.errors import Problem
from chassis.ids import new_id
from chassis.kafka import EventPublisher
from chassis.outbox import Outbox
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
from rewards.adapters import events as convert
from rewards.adapters.mongo import RewardsRepository, standing_id
from rewards.domain.ledger import Challenge, apply
from rewards.domain.rules import Activity, RuleSet, month_of, week_of

POINTS = Counter("chorus_rewards_points_awarded_total", "Points awarded", ["tenant", "rule"])
AWARDS = Counter("chorus_rewards_awards_total", "Ledger entries written", ["tenant"])
REDEMPTIONS = Counter(
    "chorus_rewards_redemptions_total", "Redemption attempts", ["tenant", "outcome"]
)
WATERMARKS = "_wm"


@dataclass
class TenantConfig:
    versions: list[RuleSet]
    challenges: list[Challenge]
    raw: dict[str, Any]


@dataclass
class Services:
    repo: RewardsRepository
    publisher: EventPublisher
    # Events of redemptions and clawbacks, staged in the standing they change.
    standing_outbox: Outbox
    config_ttl: float = 2.0
    _configs: dict[str, tuple[float, TenantConfig]] = field(default_factory=dict)

    async def config(self, tenant: str) -> TenantConfig:
        cached = self._configs.get(tenant)
        if cached is not None and time.monotonic() - cached[0] < self.config_ttl:
            return cached[1]
        raw = await self.repo.tenant(tenant)
        config = TenantConfig(
            versions=[convert.ruleset_from_doc(v) for v in raw.get("rules", [])],
            challenges=[convert.challenge_from_doc(c) for c in raw.get("challenges", [])],
            raw=raw,
        )
        self._configs[tenant] = (time.monotonic(), config)
        return config


def _watermark_key(item: Consumed[Any]) -> str:
    return f"{item.topic.replace('.', '_')}-{item.partition}"


@dataclass
class _Employee:
    tenant: str
    employee_id: str
    items: list[Consumed[Any]] = field(default_factory=list)


async def on_events(services: Services, batch: list[Consumed[AnyEvent]]) -> None:
    """Score a batch of activity exactly once per (rule, source event).

    Each standing remembers, per topic partition, the offset of the last event applied to
    it; events at or below it are skipped, and the standing is written only if those
    watermarks are still what we read. Ledger entries are keyed by award id, so a batch
    delivered again after a crash writes none twice, and where an entry is already there
    its points (not a recomputation) move the balance.
    """
    employees: dict[str, _Employee] = {}
    for item in batch:
        event = item.event
        employee_id = getattr(event.data, "employee_id", None)
        if employee_id is None:
            continue
        key = standing_id(event.tenantid, employee_id)
        employees.setdefault(key, _Employee(event.tenantid, employee_id)).items.append(item)
    if not employees:
        return
    docs = await services.repo.standings_of(list(employees))
    configs = {t: await services.config(t) for t in {e.tenant for e in employees.values()}}

    ledger: list[dict[str, Any]] = []
    activities: dict[str, list[dict[str, Any]]] = defaultdict(list)
    badges: list[AnyEvent] = []
    plans: list[tuple[_Employee, dict[str, Any], dict[str, Any], list[dict[str, Any]]]] = []
    for key, employee in employees.items():
        doc = docs.get(key)
        marks: dict[str, int] = (doc or {}).get(WATERMARKS) or {}
        fresh = [i for i in employee.items if i.offset > marks.get(_watermark_key(i), -1)]
        if not fresh:
            continue
        config = configs[employee.tenant]
        standing = convert.standing_from_doc(employee.tenant, employee.employee_id, doc)
        profile: dict[str, Any] = {}
        entries: list[dict[str, Any]] = []
        earned_badges: dict[str, dict[str, Any]] = {}
        for item in fresh:
            event = item.event
            _profile_of(event, profile)
            activity = convert.activity_of(event)
            if activity is None:
                continue
            activities[employee.tenant].append(convert.activity_doc(activity))
            outcome = apply(standing, activity, config.versions, config.challenges)
            standing = outcome.standing
            entries.extend(convert.ledger_doc(employee.tenant, a) for a in outcome.awards)
            for badge in outcome.badges:
                earned_badges[badge.badge] = {"name": badge.name, "earned_at": badge.earned_at}
                badges.append(convert.badge_earned(employee.tenant, badge, event.traceparent))
        ledger.extend(entries)
        new_marks = dict(marks)
        for item in fresh:
            wm = _watermark_key(item)
            new_marks[wm] = max(new_marks.get(wm, -1), item.offset)
        update: dict[str, Any] = {
            "$set": {
                **convert.standing_fields(standing),
                **profile,
                **{f"badges.{b}": v for b, v in earned_badges.items()},
                **{f"{WATERMARKS}.{k}": v for k, v in new_marks.items()},
                "month_key": standing.month_key,
                "week_key": standing.week_key,
            },
            "$setOnInsert": {"tenant": employee.tenant, "employee_id": employee.employee_id},
        }
        condition: dict[str, Any] = {"_id": key}
        for wm in {_watermark_key(i) for i in fresh}:
            condition[f"{WATERMARKS}.{wm}"] = marks[wm] if wm in marks else {"$exists": False}
        if doc is None:
            condition[f"{WATERMARKS}"] = {"$exists": False}
        plans.append((employee, doc or {}, {"condition": condition, "update": update}, entries))

    positions = sorted(f"{i.topic}/{i.partition}/{i.offset}" for i in batch)
    batch_id = derived_event_id("batch", positions[0], positions[-1], str(len(positions)))
    existing = await services.repo.insert_new("ledger", ledger)
    # One document per tenant and batch: inserting each activity alone costs far more.
    await services.repo.insert_new(
        "activities",
        [
            {
                "_id": f"{batch_id}:{tenant}",
                "tenant": tenant,
                "at": min(a["at"] for a in acts),
                "until": max(a["at"] for a in acts),
                "activities": acts,
            }
            for tenant, acts in activities.items()
        ],
    )
    if existing:
        kept = {e["_id"]: e for e in await services.repo.ledger_entries(sorted(existing))}

        def as_written(entry: dict[str, Any]) -> dict[str, Any] | None:
            # Written by an earlier delivery of the same event: that entry counts as it is.
            # Written for another event (a first share of the same item): this one is void.
            if entry["_id"] not in kept:
                return entry
            old = kept[entry["_id"]]
            return old if old["source_event_id"] == entry["source_event_id"] else None

        ledger = [e for e in map(as_written, ledger) if e is not None]
        for _, _, _, entries in plans:
            entries[:] = [e for e in map(as_written, entries) if e is not None]

    updates = [_figures(doc, plan, entries) for _, doc, plan, entries in plans]
    traces = {i.event.id: i.event.traceparent for i in batch}
    events: list[AnyEvent] = [
        convert.points_awarded(e["tenant"], e, traces.get(e["source_event_id"])) for e in ledger
    ]
    events.extend(badges)
    # Published before the standings move on: if we die in between, the batch comes again,
    # finds its watermarks where they were, and publishes the same events with the same
    # ids. The consumed events are the durable log these are derived from, so no outbox.
    await services.publisher.publish_many(events)
    await services.repo.apply_standings(updates)
    for entry in ledger:
        AWARDS.labels(entry["tenant"]).inc()
        POINTS.labels(entry["tenant"], entry["rule_id"]).inc(entry["points"])


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


def _figures(
    doc: dict[str, Any], plan: dict[str, Any], entries: list[dict[str, Any]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Balance and leaderboard figures move by `$inc`, so a redemption or clawback that
    lands between our read and our write is kept; a new month or week starts from zero."""
    condition, update = plan["condition"], plan["update"]
    total = sum(e["points"] for e in entries)
    inc: dict[str, int] = {"earned": total, "balance": total}
    for period, of in (("month", month_of), ("week", week_of)):
        key_field, points_field = f"{period}_key", f"{period}_points"
        old_key = doc.get(key_field)
        new_key = update["$set"][key_field]
        condition[key_field] = old_key if old_key is not None else {"$exists": False}
        in_period = sum(e["points"] for e in entries if of(_utc(e["awarded_at"])) == new_key)
        if new_key == old_key:
            inc[points_field] = in_period
        else:
            update["$set"][points_field] = in_period
    update["$inc"] = inc
    return condition, update


def _utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# -- clawbacks ---------------------------------------------------------------------------


async def claw_back(
    services: Services, tenant: str, award_id: str, reason: str, by: str
) -> dict[str, Any]:
    """Reverse an award: a negative ledger entry and PointsAwarded, once per award.

    Safe to retry: the entry is keyed by the award it reverses and the standing remembers
    which awards it gave back, so a retry after a failure completes what is missing."""
    entry = await services.repo.ledger_entry(tenant, award_id)
    if entry is None:
        raise Problem(404, "No such award", f"award_id: no award {award_id} in this tenant")
    if entry["points"] <= 0:
        raise Problem(409, "Not reversible", "award_id: only positive awards can be reversed")
    points = entry["points"]
    now = datetime.now(UTC)
    reversal = {
        "_id": derived_event_id("clawback", award_id),
        "tenant": tenant,
        "employee_id": entry["employee_id"],
        "points": -points,
        "rule_id": "clawback",
        "rule_version": 1,
        "reason": f"reversed: {reason}",
        "source_event_id": award_id,
        "source_event_type": PointsAwarded.event_type(),
        "awarded_at": now,
        "clawed_back_by": by,
    }
    if await services.repo.insert_new("ledger", [reversal]):
        reversal = await services.repo.ledger_entry(tenant, reversal["_id"]) or reversal
    event = convert.points_awarded(tenant, reversal, None)
    key = standing_id(tenant, entry["employee_id"])
    for _ in range(20):
        doc = await services.repo.standing(tenant, entry["employee_id"]) or {}
        if award_id in (doc.get("clawbacks") or {}):
            break
        balance = doc.get("balance", 0)
        condition: dict[str, Any] = {"_id": key, "balance": balance}
        inc: dict[str, int] = {"earned": -points, "balance": -min(points, balance)}
        awarded_at = _utc(entry["awarded_at"])
        for period, of in (("month", month_of), ("week", week_of)):
            condition[f"{period}_key"] = doc.get(f"{period}_key")
            if doc.get(f"{period}_key") == of(awarded_at):
                inc[f"{period}_points"] = -points
        update = {
            # The balance never goes below zero: points already spent stay spent.
            "$inc": {**inc, **outbox.increment([event])},
            "$set": {
                f"clawbacks.{award_id}": {"reason": reason, "by": by, "at": now},
                **outbox.staged([event], services.standing_outbox.lease_seconds),
            },
        }
        result = await services.repo.standings.update_one(condition, update)
        if result.matched_count == 1:
            await services.standing_outbox.publish_now(key, [event])
            break
    else:
        raise Problem(409, "Busy", "the standing kept changing; try again")
    return reversal


# -- redemptions -------------------------------------------------------------------------


async def redeem(services: Services, tenant: str, employee_id: str, item_id: str) -> dict[str, Any]:
    """Spend points on a catalog item: never oversold, never below a zero balance.

    Stock is taken first and given back if the balance does not cover the price; the
    deduction, the redemption record and its event are one document write."""
    item = await services.repo.item(tenant, item_id)
    if item is None:
        raise Problem(404, "No such item", f"item_id: no item {item_id} in the catalog")
    if not await services.repo.take_stock(tenant, item_id):
        REDEMPTIONS.labels(tenant, "out-of-stock").inc()
        raise Problem(409, "Out of stock", f"item_id: {item_id} is out of stock")
    redemption_id = new_id()
    now = datetime.now(UTC)
    event = RewardRedeemed.create(
        tenant_id=tenant,
        subject=employee_id,
        event_id=redemption_id,
        data=RewardRedeemedData(
            redemption_id=redemption_id,
            employee_id=employee_id,
            item_id=item_id,
            item_name=item["name"],
            points=item["price"],
            redeemed_at=now,
        ),
    )
    record = {"item_id": item_id, "name": item["name"], "points": item["price"], "at": now}
    update = {
        "$inc": {"balance": -item["price"], **outbox.increment([event])},
        "$set": {
            f"redemptions.{redemption_id}": record,
            **outbox.staged([event], services.standing_outbox.lease_seconds),
        },
    }
    try:
        spent = await services.repo.spend(tenant, employee_id, item["price"], update)
    except Exception:
        await services.repo.return_stock(tenant, item_id)
        raise
    if not spent:
        await services.repo.return_stock(tenant, item_id)
        REDEMPTIONS.labels(tenant, "insufficient").inc()
        raise Problem(409, "Not enough points", f"item_id: {item_id} costs {item['price']} points")
    REDEMPTIONS.labels(tenant, "redeemed").inc()
    await services.standing_outbox.publish_now(standing_id(tenant, employee_id), [event])
    return {"redemption_id": redemption_id, **record}


def activities_of(docs: list[dict[str, Any]]) -> list[Activity]:
    return [convert.activity_from_doc(d) for d in docs]
