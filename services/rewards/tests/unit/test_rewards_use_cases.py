"""Rewards' use cases against in-memory fakes of its repository and writes: rule versions
and simulations, leaderboard scopes, challenges, clawbacks, redemptions, batch scoring
and month-end badges. No Kafka, no database."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from chassis.consumer import Consumed
from chassis.domain_errors import Conflict, Invalid, NotFound
from contracts import (
    AnyEvent,
    BadgeEarned,
    Network,
    PointsAwarded,
    PostShared,
    PostSharedData,
    RewardRedeemed,
    ShareMethod,
)
from rewards.adapters import events as convert
from rewards.adapters.mongo import (
    StandingChange,
    StandingRead,
    activities_id,
    item_of,
    month_end_doc,
    month_end_of,
    spend_doc,
    spend_of,
    standing_id,
    standing_read,
)
from rewards.domain.catalog import Item, Spend
from rewards.domain.ledger import Badge, Challenge, Clawback, StandingRecord, TenantSettings
from rewards.domain.months import MonthEnd, top_badge_id
from rewards.domain.rules import Action, Activity, Award, RuleSet
from rewards.service_layer import handlers, rule_versions
from rewards.service_layer.leaderboards import board_of

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
TENANT = "t1"


@dataclass
class FakeInsert:
    """A unit of work's insert into an in-memory collection: lands unless the key is taken."""

    collection: dict[str, dict[str, Any]]
    doc: dict[str, Any]
    published: list[AnyEvent]

    async def apply(self, events: Sequence[AnyEvent]) -> bool:
        if self.doc["_id"] in self.collection:
            return False
        self.collection[self.doc["_id"]] = {**self.doc, "staged": list(events)}
        return True

    async def publish(self, events: Sequence[AnyEvent]) -> None:
        self.published.extend(events)


@dataclass
class FakeRepository:
    """What the use cases ask of `RewardsRepository`, held in dicts."""

    tenants: dict[str, dict[str, Any]] = field(default_factory=dict)
    challenges: dict[str, dict[str, Any]] = field(default_factory=dict)
    standings: dict[str, dict[str, Any]] = field(default_factory=dict)
    ledger: dict[str, dict[str, Any]] = field(default_factory=dict)
    activities: list[dict[str, Any]] = field(default_factory=list)
    # activities_id -> the activities kept under it
    kept: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    catalog: dict[str, dict[str, Any]] = field(default_factory=dict)
    chains: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {"spends": {}, "units": {}}
    )
    clawbacks: dict[str, dict[str, Any]] = field(default_factory=dict)
    month_ends: dict[str, dict[str, Any]] = field(default_factory=dict)
    month_badges: dict[str, dict[str, Any]] = field(default_factory=dict)
    month_points: dict[str, int] = field(default_factory=dict)
    published: list[AnyEvent] = field(default_factory=list)
    standing_changes: list[StandingChange] = field(default_factory=list)
    # Another writer adds a rule version between our read and our write.
    rules_race: bool = False

    async def tenant(self, tenant: str) -> TenantSettings:
        doc = dict(self.tenants.get(tenant) or {"_id": tenant})
        created = [c for key, c in self.challenges.items() if key.startswith(f"{tenant}:")]
        if created:
            doc["challenges"] = [*doc.get("challenges", []), *created]
        return TenantSettings(
            rules=tuple(convert.ruleset_from_doc(v) for v in doc.get("rules", [])),
            challenges=tuple(convert.challenge_from_doc(c) for c in doc.get("challenges", [])),
        )

    async def add_rule_version(self, tenant: str, expected: int, version: RuleSet) -> bool:
        doc = self.tenants.setdefault(tenant, {"_id": tenant})
        if self.rules_race or len(doc.get("rules", [])) != expected:
            return False
        doc.setdefault("rules", []).append(convert.ruleset_doc(version))
        return True

    async def add_challenge(self, tenant: str, challenge: Challenge) -> bool:
        key = f"{tenant}:{challenge.challenge_id}"
        if key in self.challenges:
            return False
        self.challenges[key] = convert.challenge_doc(challenge)
        return True

    async def activities_between(self, tenant: str, start: Any, end: Any) -> list[Activity]:
        return [convert.activity_from_doc(a) for a in self.activities if start <= a["at"] < end]

    # ledger and clawbacks

    async def add_ledger_entries(self, entries: list[dict[str, Any]]) -> set[str]:
        there = {e["_id"] for e in entries if e["_id"] in self.ledger}
        self.ledger.update({e["_id"]: e for e in entries if e["_id"] not in there})
        return there

    async def add_reversal(self, tenant: str, reversal: Award, by: str) -> bool:
        doc = {**convert.ledger_doc(tenant, reversal), "clawed_back_by": by}
        return not await self.add_ledger_entries([doc])

    async def ledger_entry(self, tenant: str, award_id: str) -> Award | None:
        entry = self.ledger.get(award_id)
        return convert.award_of(entry) if entry and entry["tenant"] == tenant else None

    async def ledger_entries(self, ids: Sequence[str]) -> list[Award]:
        return [convert.award_of(self.ledger[i]) for i in ids if i in self.ledger]

    async def ledger_sources(self, ids: Sequence[str]) -> dict[str, tuple[str, int | None]]:
        entries = [self.ledger[i] for i in ids if i in self.ledger]
        return {e["_id"]: (e["source_event_id"], e.get("src")) for e in entries}

    async def delete_ledger_entries(self, ids: Sequence[str]) -> None:
        for i in ids:
            self.ledger.pop(i, None)

    def new_clawback(self, box: Any, tenant: str, clawback: Clawback) -> FakeInsert:
        record = {
            "_id": clawback.award_id,
            "tenant": tenant,
            "employee_id": clawback.employee_id,
            "points": clawback.points,
            "awarded_at": clawback.awarded_at,
        }
        return FakeInsert(self.clawbacks, record, self.published)

    async def clawed(self, tenant: str, employee_id: str) -> int:
        return sum(
            c["points"]
            for c in self.clawbacks.values()
            if c["tenant"] == tenant and c["employee_id"] == employee_id
        )

    # catalog, spends and units

    async def item(self, tenant: str, item_id: str) -> Item | None:
        doc = self.catalog.get(f"{tenant}:{item_id}")
        return item_of(doc) if doc else None

    async def standing(self, tenant: str, employee_id: str) -> StandingRecord | None:
        doc = self.standings.get(standing_id(tenant, employee_id))
        return convert.standing_record_of(tenant, employee_id, doc) if doc is not None else None

    async def last_spend(self, tenant: str, employee_id: str) -> Spend | None:
        head = self._head("spends", standing_id(tenant, employee_id))
        return spend_of(tenant, head) if head else None

    async def add_spend(self, tenant: str, spend: Spend) -> bool:
        link = spend_doc(tenant, spend)
        if link["_id"] in self.chains["spends"]:
            return False
        self.chains["spends"][link["_id"]] = link
        return True

    async def units_sold(self, tenant: str, item_id: str) -> int:
        head = self._head("units", f"{tenant}:{item_id}")
        return head["seq"] if head else 0

    def _head(self, chain: str, owner: str) -> dict[str, Any] | None:
        links = [d for d in self.chains[chain].values() if d["owner"] == owner]
        return max(links, key=lambda d: d["seq"], default=None)

    def new_unit(self, box: Any, tenant: str, item_id: str, seq: int) -> FakeInsert:
        owner = f"{tenant}:{item_id}"
        unit = {"_id": f"{owner}:{seq:09d}", "owner": owner, "seq": seq}
        return FakeInsert(self.chains["units"], unit, self.published)

    # scoring

    async def standings_of(self, ids: Sequence[str]) -> dict[str, StandingRead]:
        return {i: standing_read(self.standings[i]) for i in ids if i in self.standings}

    async def erased_names(self, keys: Sequence[str]) -> dict[str, tuple[str, datetime | None]]:
        return {}

    async def keep_activities(
        self, batch_id: str, activities: dict[str, list[dict[str, Any]]]
    ) -> None:
        for tenant, acts in activities.items():
            self.kept[activities_id(batch_id, tenant)] = list(acts)
            self.activities.extend(acts)

    async def forget_activities(self, batch_id: str, tenants: Sequence[str]) -> None:
        for tenant in tenants:
            for act in self.kept.pop(activities_id(batch_id, tenant), []):
                self.activities.remove(act)

    async def apply_standings(self, changes: Sequence[StandingChange]) -> None:
        for change in changes:
            before = self.standings.get(change.key, {})
            earned = before.get("earned", 0) + sum(e["points"] for e in change.entries)
            self.standings[change.key] = {
                **before,
                **change.fields,
                "_wm": change.marks,
                "earned": earned,
            }
        self.standing_changes.extend(changes)

    # months

    async def month_end(self, tenant: str, month: str) -> MonthEnd | None:
        doc = self.month_ends.get(f"{tenant}:{month}")
        return month_end_of(doc) if doc else None

    async def add_month_end(self, decided: MonthEnd) -> bool:
        doc = month_end_doc(decided)
        if doc["_id"] in self.month_ends:
            return False
        self.month_ends[doc["_id"]] = doc
        return True

    async def net_points_between(self, tenant: str, start: Any, end: Any) -> dict[str, int]:
        return dict(self.month_points)

    def new_month_badge(
        self, box: Any, tenant: str, badge: Badge, month: str, points: int
    ) -> FakeInsert:
        record = {"_id": badge.award_id, "employee_id": badge.employee_id, "month": month}
        return FakeInsert(self.month_badges, record, self.published)

    async def finish_month_end(self, tenant: str, month: str) -> None:
        self.month_ends[f"{tenant}:{month}"]["done"] = True


@dataclass
class FakePublisher:
    sent: list[AnyEvent] = field(default_factory=list)

    async def publish_many(self, events: Sequence[AnyEvent]) -> None:
        self.sent.extend(events)


def services_of(repo: FakeRepository, publisher: FakePublisher | None = None) -> handlers.Services:
    box: Any = object()  # the fakes' writes need no outbox
    return handlers.Services(
        repo=repo,
        publisher=publisher or FakePublisher(),
        unit_outbox=box,
        clawback_outbox=box,
        month_badge_outbox=box,
        clock=lambda: NOW,
    )


SHARE_RULES = {"points": {"share": 20}, "daily_caps": {}, "daily_max": None, "multipliers": []}


# -- rule versions -------------------------------------------------------------------------


async def test_a_tenant_without_rules_of_its_own_has_the_defaults() -> None:
    versions = await rule_versions.rule_versions(services_of(FakeRepository()), TENANT)
    assert [v.version for v in versions] == [1]
    assert versions[0].points[Action.SHARE] == 10


async def test_a_first_own_version_is_2_in_force_from_now_by_its_admin() -> None:
    repo = FakeRepository()
    added = await rule_versions.add_rule_version(services_of(repo), TENANT, SHARE_RULES, None, "a1")
    assert added.version == 2
    assert added.effective_from == NOW
    assert added.created_by == "a1"
    assert await rule_versions.rule_versions(services_of(repo), TENANT) == [added]


async def test_versions_count_on_from_the_latest() -> None:
    repo = FakeRepository()
    later = NOW + timedelta(days=1)
    for _ in range(2):
        await rule_versions.add_rule_version(services_of(repo), TENANT, SHARE_RULES, later, "a1")
    assert [v["version"] for v in repo.tenants[TENANT]["rules"]] == [2, 3]
    assert repo.tenants[TENANT]["rules"][1]["effective_from"] == later


async def test_rules_never_apply_retroactively() -> None:
    repo = FakeRepository()
    with pytest.raises(Invalid) as refused:
        await rule_versions.add_rule_version(
            services_of(repo), TENANT, SHARE_RULES, NOW - timedelta(seconds=1), "a1"
        )
    assert refused.value.detail == "effective_from: rules never apply retroactively"
    assert refused.value.title == "Invalid request"
    assert repo.tenants == {}


async def test_a_version_added_meanwhile_is_a_conflict() -> None:
    repo = FakeRepository(rules_race=True)
    with pytest.raises(Conflict) as refused:
        await rule_versions.add_rule_version(services_of(repo), TENANT, SHARE_RULES, None, "a1")
    assert refused.value.detail == "another version was added meanwhile; try again"
    assert refused.value.title == "Conflict"


def _activity(employee: str, at: datetime) -> dict[str, Any]:
    activity = Activity(
        event_id=uuid.uuid4().hex,
        event_type=PostShared.event_type(),
        employee_id=employee,
        action=Action.SHARE,
        at=at,
        content_id=uuid.uuid4().hex,
    )
    return convert.activity_doc(activity)


async def test_a_simulation_compares_current_and_proposed_points() -> None:
    repo = FakeRepository()
    repo.activities = [
        _activity("e1", NOW - timedelta(days=3)),
        _activity("e1", NOW - timedelta(days=2)),
        _activity("e2", NOW - timedelta(days=1)),
        _activity("e3", NOW - timedelta(days=40)),  # outside the default window
    ]
    found = await rule_versions.simulate(services_of(repo), TENANT, SHARE_RULES, None, None)
    assert (found.start, found.end) == (NOW - timedelta(days=30), NOW)
    assert found.activities == 3
    assert found.employees == 2
    assert found.proposed_total == 60
    assert found.current_total < found.proposed_total
    assert found.biggest_changes[0]["employee_id"] == "e1"
    assert found.biggest_changes[0]["proposed"] == 40


async def test_a_simulation_ending_too_early_for_its_window_is_invalid() -> None:
    # Found by schemathesis: POST /api/v1/rules/simulate with an end in year 1 was a 500.
    with pytest.raises(Invalid) as refused:
        await rule_versions.simulate(
            services_of(FakeRepository()),
            TENANT,
            SHARE_RULES,
            None,
            datetime(1, 1, 1, 2, 2, 1, tzinfo=UTC),
        )
    assert refused.value.field == "end"


async def test_a_simulation_of_an_empty_window_changes_nobody() -> None:
    found = await rule_versions.simulate(
        services_of(FakeRepository()), TENANT, SHARE_RULES, NOW - timedelta(days=2), NOW
    )
    assert (found.activities, found.employees, found.biggest_changes) == (0, 0, [])


# -- leaderboard scopes --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "scope_id", "location", "groups", "board"),
    [
        ("tenant", None, None, (), ""),
        ("team", "t-2", None, ("t-1",), "t-2"),
        ("team", None, None, ("t-1",), "t-1"),
        ("location", None, "paris", (), "paris"),
        ("department", "sales", None, (), "sales"),
    ],
)
def test_a_board_is_the_one_named_or_the_askers_own(
    scope: Any, scope_id: str | None, location: str | None, groups: tuple[str, ...], board: str
) -> None:
    assert board_of(scope, scope_id, location, groups) == board


@pytest.mark.parametrize(
    ("scope", "location", "groups"),
    [("team", None, ("t-1", "t-2")), ("team", None, ()), ("department", "paris", ("t-1",))],
)
def test_a_board_that_cannot_be_told_needs_a_scope_id(
    scope: Any, location: str | None, groups: tuple[str, ...]
) -> None:
    with pytest.raises(Invalid) as refused:
        board_of(scope, None, location, groups)
    assert refused.value.detail == f"scope_id: required for scope '{scope}'"


# -- challenges ------------------------------------------------------------------------------


def _challenge(challenge_id: str) -> Challenge:
    return Challenge(
        challenge_id=challenge_id,
        name="Share 3 job posts",
        action=Action.SHARE,
        target=3,
        starts_at=NOW,
        ends_at=NOW + timedelta(days=30),
    )


async def test_a_challenge_is_added_once() -> None:
    repo = FakeRepository()
    await handlers.add_challenge(services_of(repo), TENANT, _challenge("jobs"))
    with pytest.raises(Conflict) as refused:
        await handlers.add_challenge(services_of(repo), TENANT, _challenge("jobs"))
    assert refused.value.detail == "challenge_id: jobs exists"
    assert list(repo.challenges) == [f"{TENANT}:jobs"]


async def test_a_challenge_taken_between_check_and_insert_is_a_conflict() -> None:
    repo = FakeRepository()

    async def listed_late(tenant: str) -> TenantSettings:
        return TenantSettings()  # the read misses the one inserted meanwhile

    repo.challenges[f"{TENANT}:jobs"] = convert.challenge_doc(_challenge("jobs"))
    repo.tenant = listed_late
    with pytest.raises(Conflict):
        await handlers.add_challenge(services_of(repo), TENANT, _challenge("jobs"))


# -- clawbacks -------------------------------------------------------------------------------


def _award(award_id: str, employee: str, points: int) -> dict[str, Any]:
    return {
        "_id": award_id,
        "tenant": TENANT,
        "employee_id": employee,
        "points": points,
        "rule_id": "share",
        "rule_version": 1,
        "reason": "shared",
        "source_event_id": uuid.uuid4().hex,
        "source_event_type": PostShared.event_type(),
        "awarded_at": NOW - timedelta(days=1),
    }


async def test_a_clawback_reverses_an_award_once_and_says_so() -> None:
    repo = FakeRepository(ledger={"aw1": _award("aw1", "e1", 10)})
    services = services_of(repo)
    reversal = await handlers.claw_back(services, TENANT, "aw1", "fraud", "a1")
    assert reversal.points == -10
    assert repo.ledger[reversal.award_id]["clawed_back_by"] == "a1"
    assert repo.clawbacks["aw1"]["points"] == 10
    [event] = repo.published
    assert isinstance(event, PointsAwarded) and event.data.points == -10
    again = await handlers.claw_back(services, TENANT, "aw1", "fraud", "a1")
    assert again.award_id == reversal.award_id
    assert len(repo.published) == 1  # the retry found it recorded: nothing twice


async def test_only_an_existing_positive_award_can_be_reversed() -> None:
    repo = FakeRepository(ledger={"neg": _award("neg", "e1", -5)})
    with pytest.raises(NotFound) as missing:
        await handlers.claw_back(services_of(repo), TENANT, "nope", "fraud", "a1")
    assert missing.value.title == "No such award"
    with pytest.raises(Conflict) as refused:
        await handlers.claw_back(services_of(repo), TENANT, "neg", "fraud", "a1")
    assert refused.value.title == "Not reversible"
    assert repo.published == []


# -- redemptions -------------------------------------------------------------------------------


def _shop(earned: int, stock: int) -> FakeRepository:
    repo = FakeRepository()
    repo.catalog[f"{TENANT}:mug"] = {
        "_id": f"{TENANT}:mug",
        "tenant": TENANT,
        "item_id": "mug",
        "name": "Mug",
        "price": 30,
        "capacity": stock,
    }
    repo.standings[standing_id(TENANT, "e1")] = {"earned": earned}
    return repo


async def test_a_redemption_charges_the_points_and_sells_a_unit() -> None:
    repo = _shop(earned=100, stock=1)
    services = services_of(repo)
    redeemed = await handlers.redeem(services, TENANT, "e1", "mug")
    assert (redeemed["name"], redeemed["points"]) == ("Mug", 30)
    [event] = repo.published
    assert (
        isinstance(event, RewardRedeemed) and event.data.redemption_id == redeemed["redemption_id"]
    )
    assert list(repo.chains["units"]) == [f"{TENANT}:mug:000000001"]
    assert (await handlers.balance(services, TENANT, "e1"))["balance"] == 70


async def test_a_redemption_refused_for_want_of_points_or_of_stock() -> None:
    poor = _shop(earned=10, stock=5)
    with pytest.raises(Conflict) as refused:
        await handlers.redeem(services_of(poor), TENANT, "e1", "mug")
    assert refused.value.title == "Not enough points"
    sold_out = _shop(earned=100, stock=0)
    with pytest.raises(Conflict) as gone:
        await handlers.redeem(services_of(sold_out), TENANT, "e1", "mug")
    assert gone.value.title == "Out of stock"
    assert (await handlers.balance(services_of(sold_out), TENANT, "e1"))["spent"] == 0
    assert poor.published == sold_out.published == []
    with pytest.raises(NotFound):
        await handlers.redeem(services_of(poor), TENANT, "e1", "hat")


async def test_a_unit_taken_meanwhile_is_not_sold_twice() -> None:
    repo = _shop(earned=100, stock=2)
    # Another redemption takes unit 1 after this one counted the units sold.
    counted = repo.units_sold

    async def taken_meanwhile(tenant: str, item_id: str) -> int:
        sold = await counted(tenant, item_id)
        if sold == 0:
            owner = f"{tenant}:{item_id}"
            repo.chains["units"][f"{owner}:000000001"] = {"owner": owner, "seq": 1}
        return sold

    repo.units_sold = taken_meanwhile
    await handlers.redeem(services_of(repo), TENANT, "e1", "mug")
    assert sorted(repo.chains["units"]) == [f"{TENANT}:mug:000000001", f"{TENANT}:mug:000000002"]
    assert len(repo.published) == 1


# -- batch scoring -------------------------------------------------------------------------------


def _shared(employee: str, at: datetime) -> PostShared:
    share_id = uuid.uuid4().hex
    return PostShared.create(
        tenant_id=TENANT,
        subject=employee,
        data=PostSharedData(
            share_id=share_id,
            content_id=uuid.uuid4().hex,
            employee_id=employee,
            network=Network.LINKEDIN,
            short_code=share_id[:8],
            tracked_url=f"http://127.0.0.1/l/{share_id[:8]}",
            shared_at=at,
            method=ShareMethod.INTENT,
        ),
    )


def _batch(events: list[AnyEvent], first_offset: int = 0) -> list[Consumed[AnyEvent]]:
    return [Consumed(e, e.topic, 0, first_offset + n) for n, e in enumerate(events)]


async def test_a_batch_is_scored_into_the_ledger_standings_and_events() -> None:
    repo, publisher = FakeRepository(), FakePublisher()
    services = services_of(repo, publisher)
    batch = _batch([_shared("e1", NOW), _shared("e1", NOW), _shared("e2", NOW)])
    await handlers.on_events(services, batch)
    shares = [e for e in repo.ledger.values() if e["rule_id"] == "share"]
    assert sorted(e["employee_id"] for e in shares) == ["e1", "e1", "e2"]
    assert repo.standings[standing_id(TENANT, "e1")]["earned"] == 20
    assert len(repo.activities) == 3
    awarded = [e for e in publisher.sent if isinstance(e, PointsAwarded)]
    assert {e.id for e in awarded} == set(repo.ledger)
    assert {c.employee_id for c in repo.standing_changes} == {"e1", "e2"}
    change = next(c for c in repo.standing_changes if c.employee_id == "e1")
    assert change.read is None and change.marks == {f"{batch[0].topic.replace('.', '_')}-0": 1}


async def test_an_event_published_twice_is_scored_once() -> None:
    repo, publisher = FakeRepository(), FakePublisher()
    services = services_of(repo, publisher)
    twice, other = _shared("e1", NOW), _shared("e1", NOW)
    await handlers.on_events(services, _batch([twice]))
    # The relay sent it again: later on the partition, beside a new share.
    await handlers.on_events(services, _batch([twice, other], first_offset=5))
    # And a third time, twice in one batch.
    await handlers.on_events(services, _batch([other, twice, twice], first_offset=9))

    standing = repo.standings[standing_id(TENANT, "e1")]
    assert standing["earned"] == 20 and standing["_wm"] == {"chorus_post-shared_v1-0": 11}
    shares = sorted(e["source_event_id"] for e in repo.ledger.values() if e["rule_id"] == "share")
    assert shares == sorted([twice.id, other.id])
    assert len(repo.activities) == 2
    awarded = {e.id for e in publisher.sent if isinstance(e, PointsAwarded)}
    assert awarded == set(repo.ledger)


async def test_a_batch_whose_standings_were_not_written_is_scored_in_full_again() -> None:
    repo, publisher = FakeRepository(), FakePublisher()
    services = services_of(repo, publisher)
    batch = _batch([_shared("e1", NOW), _shared("e1", NOW)])
    apply = repo.apply_standings

    async def died(changes: Sequence[StandingChange]) -> None:
        raise ConnectionError("the worker died before the standings were written")

    repo.apply_standings = died  # type: ignore[method-assign]
    with pytest.raises(ConnectionError):
        await handlers.on_events(services, batch)
    repo.apply_standings = apply  # type: ignore[method-assign]
    # The ledger holds the batch's entries at the batch's own positions: not repeats.
    await handlers.on_events(services, batch)
    assert repo.standings[standing_id(TENANT, "e1")]["earned"] == 20


async def test_a_batch_delivered_again_scores_nothing_twice() -> None:
    repo, publisher = FakeRepository(), FakePublisher()
    services = services_of(repo, publisher)
    batch = _batch([_shared("e1", NOW), _shared("e1", NOW)])
    await handlers.on_events(services, batch)
    sent, ledger = len(publisher.sent), dict(repo.ledger)
    await handlers.on_events(services, batch)
    assert repo.ledger == ledger
    assert len(publisher.sent) == sent
    assert repo.standings[standing_id(TENANT, "e1")]["earned"] == 20


# -- month-end badges --------------------------------------------------------------------------


async def test_a_month_is_decided_once_and_its_badges_published_once() -> None:
    repo = FakeRepository(month_points={f"e{n}": n for n in range(1, 21)})
    services = services_of(repo)
    assert await handlers.close_month(services, TENANT, "2026-02") == 2
    decided = repo.month_ends[f"{TENANT}:2026-02"]
    assert [w["employee_id"] for w in decided["winners"]] == ["e20", "e19"]
    assert decided["done"] is True
    assert all(isinstance(e, BadgeEarned) for e in repo.published)
    assert {e.data.employee_id for e in repo.published} == {"e20", "e19"}
    assert await handlers.close_month(services, TENANT, "2026-02") == 0
    assert len(repo.published) == 2


async def test_badges_staged_by_a_run_that_stopped_are_not_published_again() -> None:
    repo = FakeRepository(month_points={"e1": 10})
    repo.month_ends[f"{TENANT}:2026-02"] = {
        "_id": f"{TENANT}:2026-02",
        "tenant": TENANT,
        "month": "2026-02",
        "ranked": 1,
        "places": 1,
        "cutoff": 10,
        "winners": [{"employee_id": "e1", "points": 10}],
        "decided_at": NOW,
        "done": False,
    }
    badge_id = top_badge_id(TENANT, "e1", "2026-02")
    repo.month_badges[badge_id] = {"_id": badge_id}  # the relay publishes it
    assert await handlers.close_month(services_of(repo), TENANT, "2026-02") == 0
    assert repo.published == []
    assert repo.month_ends[f"{TENANT}:2026-02"]["done"] is True
