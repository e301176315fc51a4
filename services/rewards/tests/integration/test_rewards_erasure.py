"""Erasure against the real MongoDB server: after an opt-out with `erase`, no document of
rewards names the person (their points, badges, redemptions, standing, suggestions and
what they did as an admin go on under a pseudonym), the totals others see do not move,
and neither the erasure delivered again nor a late event brings the id back."""

from __future__ import annotations

import zlib
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from bson import json_util
from pymongo.asynchronous.database import AsyncDatabase
from streams import day, engagement, share

from chassis.consumer import Consumed
from chassis.outbox import Outbox
from contracts import (
    AdvocateEnrolled,
    AdvocateEnrolledData,
    AdvocateOptedOut,
    AdvocateOptedOutData,
    AnyEvent,
    EngagementKind,
)
from contracts.erasure import pseudonym
from rewards.adapters.mongo import RewardsRepository
from rewards.domain.ledger import LeaderboardChoice
from rewards.domain.rules import RuleSet
from rewards.service_layer import handlers
from rewards.service_layer import suggestions as ideas
from rewards.service_layer.leaderboards import Leaderboards
from support import ref, token

TEAM = "team-x"


class Recorder:
    """The worker's publisher: keeps what it was given."""

    def __init__(self) -> None:
        self.events: list[AnyEvent] = []

    async def publish_many(self, events: Sequence[AnyEvent]) -> None:
        self.events.extend(events)


class Unreachable:
    """An outbox publisher whose Kafka is away: events stay staged in their documents."""

    async def publish_raw(self, *args: Any, **kwargs: Any) -> None:
        raise ConnectionError("kafka is away")


class Stream:
    """Events as the worker consumes them, each with the next offset of its topic."""

    def __init__(self) -> None:
        self.offsets: dict[str, int] = {}

    def __call__(self, *events: AnyEvent) -> list[Consumed[AnyEvent]]:
        out = []
        for event in events:
            offset = self.offsets[event.topic] = self.offsets.get(event.topic, -1) + 1
            out.append(Consumed(event=event, topic=event.topic, partition=0, offset=offset))
        return out


def _services(db: AsyncDatabase) -> handlers.Services:
    repo = RewardsRepository(db)
    away: Any = Unreachable()
    return handlers.Services(
        repo=repo,
        publisher=Recorder(),
        unit_outbox=Outbox(repo.units, away, 60),
        clawback_outbox=Outbox(repo.clawbacks, away, 60),
        month_badge_outbox=Outbox(repo.month_badges, away, 60),
        clock=lambda: datetime(2026, 2, 10, tzinfo=UTC),
    )


def _enrolled(tenant: str, who: str) -> AdvocateEnrolled:
    return AdvocateEnrolled.create(
        tenant_id=tenant,
        subject=who,
        data=AdvocateEnrolledData(
            employee_id=who,
            employee_groups=[TEAM],
            department="Sales",
            location="Oslo",
            consent_at=day(0),
        ),
    )


def _erased(tenant: str, who: str) -> AdvocateOptedOut:
    # Erased now: after every event made so far in the test (each made when created).
    return AdvocateOptedOut.create(
        tenant_id=tenant,
        subject=who,
        data=AdvocateOptedOutData(employee_id=who, opted_out_at=datetime.now(UTC), erase=True),
    )


def _texts(value: Any) -> Iterator[str]:
    """Every text a stored value holds, compressed binaries (packed activities) opened."""
    if isinstance(value, dict):
        for item in value.values():
            yield from _texts(item)
    elif isinstance(value, list):
        for item in value:
            yield from _texts(item)
    elif isinstance(value, bytes):
        try:
            yield zlib.decompress(value).decode()
        except zlib.error:
            yield value.decode(errors="replace")


async def naming(db: AsyncDatabase, who: str) -> list[str]:
    """The documents of every collection (but `directory`, the chassis') naming `who`."""
    found = []
    for collection in sorted(await db.list_collection_names()):
        if collection == "directory":
            continue
        async for doc in db[collection].find({}):
            text = json_util.dumps(doc) + "".join(_texts(doc))
            if who in text:
                found.append(f"{collection}/{doc['_id']}")
    return found


async def _totals(db: AsyncDatabase, tenant: str) -> dict[str, Any]:
    """What the program counts, whoever it is about."""
    ledger = [d async for d in db["ledger"].find({"tenant": tenant})]
    standings = [d async for d in db["standings"].find({"tenant": tenant})]
    spends = [d async for d in db["spends"].find({"owner": {"$regex": f"^{tenant}:"}})]
    clawbacks = [d async for d in db["clawbacks"].find({"tenant": tenant})]
    month_ends = [d async for d in db["month_ends"].find({"tenant": tenant})]
    return {
        "ledger": (len(ledger), sum(d["points"] for d in ledger)),
        "earned": sum(d.get("earned", 0) for d in standings),
        "spent": sum(d["points"] for d in spends),
        "clawed": sum(d["points"] for d in clawbacks),
        "month badges": await db["month_badges"].count_documents({"tenant": tenant}),
        "winners": [len(d["winners"]) for d in month_ends],
    }


@pytest.fixture
async def services(rewards_db: AsyncDatabase) -> handlers.Services:
    found = _services(rewards_db)
    await found.repo.ensure_indexes()
    return found


async def test_an_erased_person_is_named_nowhere_and_the_totals_do_not_move(
    rewards_db: AsyncDatabase, services: handlers.Services
) -> None:
    # "gone-" is not hex: the id cannot turn up by chance inside a hash.
    tenant, gone, stays, other = ref("erase"), ref("gone-"), ref("stay-"), ref("other-")
    admin = "admin-1"
    repo, stream = services.repo, Stream()
    await handlers.save_item(services, tenant, "mug", {"name": "Mug", "price": 10, "stock": 5})

    # January: the person shares three times and gets a click; colleagues share too.
    january = stream(
        _enrolled(tenant, gone),
        _enrolled(tenant, stays),
        *(share(tenant, gone, day(n)) for n in (1, 2, 3)),
        engagement(tenant, gone, day(3), EngagementKind.CLICK),
        share(tenant, stays, day(2)),
        share(tenant, other, day(2)),
        share(tenant, other, day(4)),
    )
    await handlers.on_events(services, january)
    awards = {
        who: [d async for d in rewards_db["ledger"].find({"tenant": tenant, "employee_id": who})]
        for who in (gone, other)
    }
    # An admin reverses one of the person's awards; the person, an admin too, one of
    # another's; and publishes rules (from 2030, so nothing scores differently).
    await handlers.claw_back(services, tenant, awards[gone][0]["_id"], "duplicate", admin)
    await handlers.claw_back(services, tenant, awards[other][0]["_id"], "fraud", gone)
    version = RuleSet(2, datetime(2030, 1, 1, tzinfo=UTC), points={}, created_by=gone)
    assert await repo.add_rule_version(tenant, 0, version)
    # Redemptions: the person's (fulfilled by an admin), a colleague's (fulfilled by them).
    mine = await handlers.redeem(services, tenant, gone, "mug")
    theirs = await handlers.redeem(services, tenant, stays, "mug")
    await handlers.fulfil(services, tenant, mine["redemption_id"], admin)
    await handlers.fulfil(services, tenant, theirs["redemption_id"], gone)
    # January closes: the person is its top 10% (the badge's event stays staged).
    await handlers.close_month(services, tenant, "2026-01")
    await repo.set_profile(tenant, gone, LeaderboardChoice(hidden=False, opt_in=True))
    idea = await ideas.suggest(services, tenant, gone, "Standing desk", None)
    await ideas.vote(services, tenant, stays, idea.suggestion_id)
    named = {found.split("/")[0] for found in await naming(rewards_db, gone)}
    assert named == {
        "activities",
        "clawbacks",
        "fulfilments",
        "ledger",
        "month_badges",
        "month_ends",
        "profiles",
        "spends",
        "standings",
        "suggestions",
        "tenants",
        "units",
        "votes",
    }

    redemptions = await handlers.tenant_redemptions(services, tenant)
    ranking = [
        (s.suggestion_id, s.votes)
        for s in (await ideas.ranking(services, tenant, stays, None, 50))[0]
    ]
    boards = Leaderboards(repo, refresh_seconds=0)
    team = await boards.query(tenant, stays, "all", "team", TEAM, 50, 2)
    assert gone in [row["employee_id"] for row in team["top"]]
    # As stored: put back below, as a crash between its copy and its deletion leaves it.
    standing = await rewards_db["standings"].find_one({"_id": f"{tenant}:{gone}"})
    assert standing is not None and standing["location"] == "Oslo"

    # Share erases first: a reaction to their share then names the pseudonym, and may
    # come in before the opt-out does.
    opted_out = _erased(tenant, gone)
    name = pseudonym(opted_out.id)
    await handlers.on_events(
        services, stream(engagement(tenant, name, day(6), EngagementKind.REACTION))
    )
    # What the program counts: points given (ledger), earned (standings), spent and
    # reversed, the month's winners.
    before = await _totals(rewards_db, tenant)
    recorder: Recorder = services.publisher  # type: ignore[assignment]
    recorder.events.clear()
    erasure = stream(opted_out)
    await handlers.on_events(services, erasure)

    assert await naming(rewards_db, gone) == []
    assert await _totals(rewards_db, tenant) == before
    # The same entries (and the reaction's), under the pseudonym; the redemptions as they
    # were, with theirs.
    assert len(awards[gone]) + 1 == await rewards_db["ledger"].count_documents(
        {"tenant": tenant, "employee_id": name, "rule_id": {"$ne": "clawback"}}
    )
    after = await handlers.tenant_redemptions(services, tenant)
    assert [{**r, "employee_id": r["employee_id"].replace(name, gone)} for r in after] == [
        {**r, "fulfilled_by": r["fulfilled_by"].replace(gone, name)} for r in redemptions
    ]
    now_ranked = (await ideas.ranking(services, tenant, stays, None, 50))[0]
    assert [(s.suggestion_id, s.votes) for s in now_ranked] == ranking
    assert [s.suggested_by for s in now_ranked] == [name]
    # Off every leaderboard; the others keep their points.
    boards = Leaderboards(repo, refresh_seconds=0)
    now = await boards.query(tenant, stays, "all", "team", TEAM, 50, 2)
    assert [r["employee_id"] for r in now["top"]] == [stays]
    assert (
        now["top"][0]["points"]
        == next(r for r in team["top"] if r["employee_id"] == stays)["points"]
    )
    company = await boards.query(tenant, stays, "all", "tenant", "", 50, 2)
    assert sorted(r["employee_id"] for r in company["top"]) == sorted([stays, other])
    # Their standing and the pseudonym's add up.
    kept = await rewards_db["standings"].find_one({"_id": f"{tenant}:{name}"})
    assert kept is not None and kept["earned"] == standing["earned"] + 1 and kept["opted_out"]
    assert kept["shares"] == standing["shares"] == 3
    assert not {"groups", "department", "location"} & set(kept)
    # Nothing the person had is theirs any more.
    assert await handlers.balance(services, tenant, gone) == {
        "earned": 0,
        "clawed_back": 0,
        "spent": 0,
        "balance": 0,
    }
    assert not any(gone in e.to_json().decode() for e in recorder.events)
    # Events still staged (Kafka was away) go out under the pseudonym, keyed by it.
    for collection in ("units", "clawbacks", "month_badges"):
        staged = [
            entry
            async for doc in rewards_db[collection].find({"_outbox_n": {"$gt": 0}})
            for entry in doc["_outbox"].values()
            if f'"tenantid":"{tenant}"' in entry["value"]
        ]
        assert any(e["key"] == f"{tenant}:{name}" for e in staged), collection

    # Delivered again (the worker died before it moved on): the same pseudonym, nothing
    # counted twice. Also after a crash between the standing's copy and its deletion.
    await rewards_db["standings"].insert_one(standing)
    await handlers.on_events(services, erasure)
    await handlers.on_events(services, january)
    assert await naming(rewards_db, gone) == []
    assert await _totals(rewards_db, tenant) == before
    assert await rewards_db["erasures"].count_documents({"pseudonym": name}) == 1

    # A late share of the person (from before the erasure, delivered after it) counts,
    # under the pseudonym, as do its points announced.
    recorder.events.clear()
    made_before = share(tenant, gone, day(5)).model_copy(update={"time": day(5)})
    await handlers.on_events(services, stream(made_before))
    assert await naming(rewards_db, gone) == []
    late = await _totals(rewards_db, tenant)
    assert late["ledger"] == (before["ledger"][0] + 1, before["ledger"][1] + 10)
    assert late["earned"] == before["earned"] + 10
    assert [e.data.employee_id for e in recorder.events] == [name]  # type: ignore[union-attr]

    # They come back and share (made after the erasure): theirs again, under their id.
    recorder.events.clear()
    later = datetime.now(UTC) + timedelta(days=1)
    came_back = share(tenant, gone, day(30)).model_copy(update={"time": later})
    await handlers.on_events(services, stream(came_back))
    assert await rewards_db["standings"].find_one({"_id": f"{tenant}:{gone}"}) is not None
    # (its points, and the first share's badge again: a new standing)
    assert {e.data.employee_id for e in recorder.events} == {gone}  # type: ignore[union-attr]


async def test_someone_never_in_the_program_is_erased_by_request(
    rewards_api: Any, rewards_db: AsyncDatabase, services: handlers.Services
) -> None:
    tenant, gone, stays = ref("erase-req"), ref("gone-"), ref("stay-")
    url = rewards_api.url
    async with httpx.AsyncClient(timeout=30) as http:
        idea = await http.post(
            f"{url}/api/v1/reward-suggestions",
            headers=token(tenant, gone),
            json={"title": "Bike repair day"},
        )
        assert idea.status_code == 201, idea.text
        await http.put(
            f"{url}/api/v1/reward-suggestions/{idea.json()['suggestion_id']}/vote",
            headers=token(tenant, stays),
        )
        hidden = await http.put(
            f"{url}/api/v1/me/leaderboard-visibility",
            headers=token(tenant, gone),
            json={"hidden": True},
        )
        assert hidden.status_code == 200, hidden.text
        assert await naming(rewards_db, gone)

        for _ in range(2):
            erased = await http.post(f"{url}/api/v1/me/erasure", headers=token(tenant, gone))
            assert erased.status_code == 200, erased.text
        assert await naming(rewards_db, gone) == []
        listed = await http.get(f"{url}/api/v1/reward-suggestions", headers=token(tenant, stays))
        assert [s["votes"] for s in listed.json()["suggestions"]] == [2]

    # Whatever of theirs made before the erasure and coming in after it counts under the
    # pseudonym.
    before = datetime.now(UTC) - timedelta(minutes=1)
    made_before = share(tenant, gone, before).model_copy(update={"time": before})
    await handlers.on_events(services, Stream()(made_before))
    assert await naming(rewards_db, gone) == []
    assert await rewards_db["ledger"].count_documents({"tenant": tenant}) == 1
