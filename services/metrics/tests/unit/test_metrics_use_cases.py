"""Metrics' use cases over an in-memory repository: facts are stored once per event, totals
and a person's own data are read from them, wins are drafted, told once and published, and
what a caller may not ask is refused with the domain's errors."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast

import pytest

from chassis.auth import Principal
from chassis.consumer import Consumed
from chassis.domain_errors import Conflict, Forbidden, Invalid, NotFound
from contracts import AnyEvent, PostShared, PostSharedData
from metrics.adapters.mongo import MetricsRepository
from metrics.domain import figures as fig
from metrics.domain.facts import COUNTERS, Fact
from metrics.domain.period import asked_period
from metrics.domain.program import Settings
from metrics.domain.wins import Decision, WinStatus
from metrics.service_layer import handlers
from metrics.service_layer.reading import check_sort
from support import Units

T = "t1"
TODAY = date(2026, 11, 2)
CURATOR = Principal(employee_id="cur", tenant=T, roles=frozenset({"curator"}))
EMPLOYEE = Principal(employee_id="e1", tenant=T, roles=frozenset({"employee"}))


class WinWrite:
    """A decision's write for the unit of work: it lands once per win."""

    def __init__(self, repo: FakeRepository, tenant: str, decision: Decision) -> None:
        self.repo, self.tenant, self.decision = repo, tenant, decision

    async def apply(self, events: Sequence[AnyEvent]) -> bool:
        key = f"{self.tenant}:{self.decision.win_id}"
        if key in self.repo.wins:
            raise Conflict("it changed meanwhile")
        self.repo.wins[key] = (self.tenant, self.decision)
        return True

    async def publish(self, events: Sequence[AnyEvent]) -> None:
        self.repo.published.extend(events)


class FakeRepository:
    """What the use cases ask of `MetricsRepository`, over one generation in memory."""

    def __init__(self) -> None:
        self.facts: dict[str, dict[str, Any]] = {}
        self.log: list[list[dict[str, Any]]] = []
        self.head = 0
        self.wins: dict[str, tuple[str, Decision]] = {}
        self.published: list[AnyEvent] = []
        self.settings: dict[str, Settings] = {}
        self.goals: set[tuple[str, str]] = set()
        self.erased_people: set[tuple[str, str]] = set()

    # -- facts
    async def active_generation(self) -> int:
        return 0

    async def erased(self) -> dict[str, str]:
        return {}

    async def append_log(self, facts: Sequence[dict[str, Any]], erasures: Any, at: Any) -> int:
        self.log.append(list(facts))
        return len(self.log)

    async def log_written(self, seq: int) -> None:
        self.head = max(self.head, seq)

    async def insert_facts(self, generation: int, facts: Sequence[dict[str, Any]]) -> list[int]:
        new = [i for i, fact in enumerate(facts) if fact["_id"] not in self.facts]
        self.facts.update((facts[i]["_id"], facts[i]) for i in new)
        return new

    def _of(self, tenant: str | None = None, **equal: Any) -> list[dict[str, Any]]:
        return [
            fact
            for fact in self.facts.values()
            if (tenant is None or fact["tenant"] == tenant)
            and all(fact.get(name) == value for name, value in equal.items())
        ]

    async def totals(
        self,
        generation: int,
        tenant: str,
        *,
        advocate: str | None = None,
        start: date | None = None,
        end: date | None = None,
    ) -> dict[str, float]:
        found = [
            fact
            for fact in self._of(tenant)
            if (advocate is None or fact.get("advocate") == advocate)
            and (start is None or fact["day"] >= start.isoformat())
            and (end is None or fact["day"] <= end.isoformat())
        ]
        return {name: sum(f.get(name) or 0 for f in found) for name in COUNTERS} if found else {}

    async def conversions_per_day_and_content(
        self, generation: int, tenant: str, since: date
    ) -> list[tuple[tuple[str, ...], dict[str, float]]]:
        return []

    def _of_types(self, types: Iterable[str], tenant: str | None = None) -> list[dict[str, Any]]:
        return [fact for fact in self._of(tenant) if fact["type"] in set(types)]

    async def advocates(self, generation: int) -> dict[str, dict[str, fig.Advocate]]:
        facts = self._of_types(fig.ADVOCATE_TYPES)
        tenants = {fact["tenant"] for fact in facts}
        return {t: fig.advocates(f for f in facts if f["tenant"] == t) for t in tenants}

    async def content_items(self, generation: int, tenant: str) -> dict[str, fig.ContentItem]:
        return fig.catalog(self._of_types(fig.CONTENT_TYPES, tenant))

    async def facts_of_advocate(
        self, generation: int, tenant: str, employee: str, after: str | None, limit: int
    ) -> list[Fact]:
        found = sorted(self._of(tenant, advocate=employee), key=lambda fact: fact["_id"])
        return [
            Fact(
                id=fact["_id"],
                type=fact["type"],
                time=fact["time"],
                day=fact["day"],
                counters={name: fact[name] for name in COUNTERS if fact.get(name)},
            )
            for fact in found
            if after is None or fact["_id"] > after
        ][:limit]

    async def is_erased(self, tenant: str, employee: str) -> bool:
        return (tenant, employee) in self.erased_people

    # -- settings, goals and wins
    async def tenant_settings(self, tenant: str) -> Settings:
        return self.settings.get(tenant, Settings())

    async def delete_goal(self, tenant: str, goal_id: str) -> bool:
        found = (tenant, goal_id) in self.goals
        self.goals.discard((tenant, goal_id))
        return found

    async def list_wins(self, tenant: str) -> list[Decision]:
        return [decision for of, decision in self.wins.values() if of == tenant]

    def win_decided(self, tenant: str, decision: Decision) -> WinWrite:
        return WinWrite(self, tenant, decision)


@pytest.fixture
def repo() -> FakeRepository:
    return FakeRepository()


@pytest.fixture
def units() -> Units:
    return Units()


@pytest.fixture
def services(repo: FakeRepository, units: Units) -> handlers.Services:
    return handlers.Services(
        repo=cast(MetricsRepository, repo),
        today=lambda: TODAY,
        clock=lambda: datetime(2026, 11, 2, 9, tzinfo=UTC),
        uow=units,
    )


def share(n: int, employee: str = "e1", day: date = TODAY, reach: int = 150) -> PostShared:
    return PostShared.create(
        tenant_id=T,
        subject=f"s{n}",
        data=PostSharedData(
            share_id=f"s{n}",
            content_id="c1",
            employee_id=employee,
            network="linkedin",
            short_code=f"w{n:07d}",
            tracked_url=f"https://go.example.com/l/w{n:07d}",
            shared_at=datetime(day.year, day.month, day.day, 9, tzinfo=UTC),
            audience_size=reach,
            method="intent",
        ),
    )


def batch(*events: AnyEvent) -> list[Consumed[Any]]:
    return [Consumed(event, event.topic, 0, offset) for offset, event in enumerate(events)]


async def test_each_event_is_one_fact_and_a_redelivery_counts_nothing(
    services: handlers.Services, repo: FakeRepository
) -> None:
    events = [share(1), share(2, "e2")]
    await handlers.on_events(services, batch(*events))
    await handlers.on_events(services, batch(*events))
    assert len(repo.facts) == 2
    # Each batch is logged, and the head hint names the newest entry.
    assert len(repo.log) == repo.head == 2
    assert (await handlers.summary(services, T, None, None))["shares"] == 2


async def test_the_summary_counts_the_days_asked_for(
    services: handlers.Services, repo: FakeRepository
) -> None:
    yesterday = TODAY - timedelta(days=1)
    await handlers.on_events(services, batch(share(1, day=yesterday), share(2), share(3)))
    today_only = await handlers.summary(services, T, TODAY, TODAY)
    assert today_only == {"shares": 2, "reach": 300}
    assert await handlers.summary(services, "other", None, None) == {}


async def test_a_period_that_ends_before_it_starts_is_invalid(
    services: handlers.Services,
) -> None:
    with pytest.raises(Invalid) as refused:
        await handlers.summary(services, T, TODAY, TODAY - timedelta(days=1))
    assert refused.value.detail == "end: must not be before start"
    assert refused.value.errors == (("end", "must not be before start"),)
    with pytest.raises(Invalid):
        asked_period(TODAY, TODAY, TODAY - timedelta(days=1))


def test_a_period_is_the_last_thirty_days_and_ten_years_at_most() -> None:
    assert asked_period(TODAY, None, None) == (TODAY - timedelta(days=29), TODAY)
    assert asked_period(TODAY, date(2017, 1, 1), None) == (date(2017, 1, 1), TODAY)
    with pytest.raises(Invalid) as refused:
        asked_period(TODAY, date(2016, 1, 1), None)
    assert refused.value.detail == "start: the period may span ten years at most"
    assert refused.value.field == "start"


def test_a_period_before_2000_is_invalid_not_an_overflow() -> None:
    # Found by schemathesis: GET /api/v1/figures?end=0001-01-01 was a 500, and so was the
    # dashboard's previous period of start=0001-01-01.
    with pytest.raises(Invalid) as refused:
        asked_period(TODAY, None, date(1, 1, 1))
    assert refused.value.field == "end"
    with pytest.raises(Invalid) as refused:
        asked_period(TODAY, date(1, 1, 1), date(1, 1, 1))
    assert refused.value.detail == "start: must not be before 2000-01-01"
    with pytest.raises(Invalid) as refused:
        asked_period(TODAY, None, date(2000, 1, 29))
    assert refused.value.field == "end"
    assert asked_period(TODAY, None, date(2000, 1, 30)) == (date(2000, 1, 1), date(2000, 1, 30))
    first, last = asked_period(TODAY, date(2000, 1, 1), date(2009, 12, 31))
    assert fig.previous_period(first, last)[0] == date(1989, 12, 31)


def test_breakdowns_sort_by_a_figure() -> None:
    check_sort("shares")
    with pytest.raises(Invalid) as refused:
        check_sort("earned_media_value")
    assert refused.value.detail.startswith("sort: must be one of ")
    assert refused.value.errors == (("sort", "unknown figure"),)


async def test_a_goal_that_is_not_there_is_not_found(
    services: handlers.Services, repo: FakeRepository
) -> None:
    repo.goals.add((T, "g1"))
    await handlers.delete_goal(services, T, "g1")
    with pytest.raises(NotFound) as refused:
        await handlers.delete_goal(services, T, "g1")
    assert refused.value.detail == "goal_id: no goal 'g1'"


async def test_my_data_is_my_facts_and_totals_until_i_am_erased(
    services: handlers.Services, repo: FakeRepository
) -> None:
    await handlers.on_events(services, batch(share(1), share(2), share(3, "e2")))
    first = await handlers.my_facts(services, T, "e1", None, 1)
    assert len(first.facts) == 1 and first.totals == {"shares": 2, "reach": 300}
    rest = await handlers.my_facts(services, T, "e1", first.facts[0].id, 10)
    assert len(rest.facts) == 1 and rest.totals is None
    repo.erased_people.add((T, "e1"))
    assert await handlers.my_facts(services, T, "e1", None, 10) == handlers.MyFacts(
        erased=True, facts=[], totals=None
    )


async def program_of_a_hundred_shares(services: handlers.Services) -> None:
    await handlers.on_events(services, batch(*(share(n, f"e{n % 7}") for n in range(100))))


async def test_only_the_program_team_and_its_storytellers_see_wins(
    services: handlers.Services, repo: FakeRepository
) -> None:
    await program_of_a_hundred_shares(services)
    with pytest.raises(Forbidden):
        await handlers.win_drafts(services, EMPLOYEE)
    repo.settings[T] = Settings(storytellers=("e1",))
    drafts, decided = await handlers.win_drafts(services, EMPLOYEE)
    assert [draft.id for draft in drafts] == ["reach-10000", "shares-100"]
    assert decided == []


async def test_a_told_win_is_stored_and_published_once(
    services: handlers.Services, repo: FakeRepository, units: Units
) -> None:
    await program_of_a_hundred_shares(services)
    told = await handlers.decide_win(services, CURATOR, "shares-100", "100 shares!")
    assert (told.status, told.text, told.decided_by) == ("told", "100 shares!", "cur")
    assert [type(event).__name__ for event in units.committed] == ["WinTold"]
    assert repo.published == units.committed
    drafts, decided = await handlers.win_drafts(services, CURATOR)
    assert [draft.id for draft in drafts] == ["reach-10000"]
    assert [decision.win_id for decision in decided] == ["shares-100"]
    with pytest.raises(Conflict) as again:
        await handlers.decide_win(services, CURATOR, "shares-100", None)
    assert again.value.title == "Decided already"


async def test_a_discarded_win_publishes_nothing(
    services: handlers.Services, repo: FakeRepository, units: Units
) -> None:
    await program_of_a_hundred_shares(services)
    discarded = await handlers.decide_win(services, CURATOR, "reach-10000", None)
    assert discarded.status == "discarded" and discarded.text is None
    assert units.committed == [] and repo.published == []
    with pytest.raises(NotFound):
        await handlers.decide_win(services, CURATOR, "reach-25000", None)


async def test_a_win_decided_meanwhile_is_a_conflict(
    services: handlers.Services, repo: FakeRepository, units: Units
) -> None:
    await program_of_a_hundred_shares(services)
    other = Decision(
        "shares-100", "shares", {}, WinStatus.DISCARDED, "e9", datetime(2026, 11, 2, tzinfo=UTC)
    )
    # Decided by another api after this one read.
    repo.wins[f"{T}:shares-100"] = ("elsewhere", other)
    with pytest.raises(Conflict) as refused:
        await handlers.decide_win(services, CURATOR, "shares-100", "told twice")
    assert (refused.value.title, refused.value.detail) == (
        "Decided already",
        "win_id: shares-100 was decided already",
    )
    assert units.committed == [] and repo.published == []
