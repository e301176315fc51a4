"""Retention of engagement detail: past a tenant's retention, a day's engagement facts are
replaced by roll-ups and every figure of every period stays what it was; a run stopped
anywhere and run again loses and doubles nothing; an engagement older than the retention
is not recorded (its fact may have been rolled up); an api following the log ends with the
same figures whichever state of the facts it loaded."""

from __future__ import annotations

import random
from collections.abc import Sequence
from datetime import UTC, date, datetime, timedelta
from typing import Any, cast
from zoneinfo import ZoneInfo

import pytest

from chassis.consumer import Consumed
from contracts import (
    AnyEvent,
    EngagementObserved,
    EngagementObservedData,
    PostShared,
    PostSharedData,
)
from metrics.adapters.live import LiveFacts
from metrics.adapters.memory import FactTable
from metrics.adapters.mongo import MetricsRepository
from metrics.domain import moments as mom
from metrics.domain import retention
from metrics.domain.facts import LogEntry, RolledDay, fact_id, fact_of
from metrics.domain.program import Settings
from metrics.service_layer import handlers
from metrics.service_layer.reading import Figures, Slice
from metrics.service_layer.retention import roll_up_expired

T = "t1"
TODAY = date(2026, 11, 2)
NETWORKS = ("linkedin", "x", "facebook")
KINDS = ("article", "job", "event")
GROUPS = ("sales", "hr", "engineering")
ENGAGEMENTS = ("click", "reaction", "comment", "reshare", "impression", "conversion")


def _program(seed: int = 7) -> list[AnyEvent]:
    """Shares over 200 days by twelve advocates, and engagement on them over the days
    after, often several in one quarter hour (so that roll-ups sum more than one)."""
    rng = random.Random(seed)
    events: list[AnyEvent] = []
    for n in range(160):
        employee = f"e{n % 12}"
        shared_at = datetime.combine(
            TODAY - timedelta(days=rng.randrange(200)), datetime.min.time()
        )
        shared_at = shared_at.replace(tzinfo=UTC) + timedelta(seconds=rng.randrange(86_400))
        share = PostShared.create(
            tenant_id=T,
            subject=f"s{n}",
            data=PostSharedData(
                share_id=f"s{n}",
                content_id=f"c{n % 9}",
                employee_id=employee,
                employee_groups=[GROUPS[n % 12 % 3]],
                employee_location=f"loc{n % 12 % 4}",
                content_topics=[f"topic{n % 5}"],
                network=NETWORKS[n % 3],
                short_code=f"w{n:07d}",
                tracked_url=f"https://go.example.com/l/w{n:07d}",
                shared_at=shared_at,
                audience_size=rng.randrange(50, 2000),
                method="intent",
                campaign_id=f"camp{n % 4}" if n % 3 else None,
                content_kind=KINDS[n % 3],
            ),
        )
        events.append(share)
        at = shared_at
        for m in range(rng.randrange(0, 30)):
            # Bursts: most within minutes of the one before, some hours or days later.
            at += timedelta(seconds=rng.choice((5, 40, 300, 3_600 * 7, 86_400 * 2)))
            kind = rng.choice(ENGAGEMENTS)
            events.append(
                EngagementObserved.create(
                    tenant_id=T,
                    subject=f"s{n}",
                    data=EngagementObservedData(
                        engagement_id=f"s{n}-{m}",
                        share_id=f"s{n}",
                        content_id=f"c{n % 9}",
                        employee_id=employee,
                        network=NETWORKS[n % 3],
                        kind=kind,
                        count=rng.choice((1, 1, 1, 3)),
                        observed_at=at,
                        source="redirect" if kind == "click" else "webhook",
                        unique=rng.random() < 0.6,
                        campaign_id=f"camp{n % 4}" if n % 3 else None,
                        content_kind=KINDS[n % 3],
                    ),
                )
            )
    return events


def _facts(events: Sequence[AnyEvent]) -> list[dict[str, Any]]:
    enrolled = [
        {
            "_id": f"advocate-enrolled:{n}",
            "tenant": T,
            "type": "advocate-enrolled",
            "time": datetime(2026, 1, 5, 9, tzinfo=UTC),
            "day": "2026-01-05",
            "advocate": f"e{n}",
            "groups": [GROUPS[n % 3]],
            "status": "enrolled",
            "enrollments": 1,
        }
        for n in range(12)
    ]
    return enrolled + [{"_id": fact_id(e), **fact_of(e)} for e in events]


class FakeRepository:
    """What the retention job and the worker ask of `MetricsRepository`, one generation
    in memory; `stop_after` makes a write raise once the given number of writes is done."""

    def __init__(self, facts: Sequence[dict[str, Any]], days: int = 30) -> None:
        self.facts = {fact["_id"]: dict(fact) for fact in facts}
        self.settings = {T: Settings(detail_retention_days=days)}
        self.log: list[LogEntry] = []
        self.settled = True
        self.writes = 0
        self.stop_after: int | None = None

    def _write(self) -> None:
        self.writes += 1
        if self.stop_after is not None and self.writes > self.stop_after:
            raise RuntimeError("killed")

    async def read_pointers(self) -> tuple[int, bool, int, int]:
        return 0, self.settled, len(self.log), 0

    async def generations_present(self) -> list[int]:
        return [0]

    async def active_generation(self) -> int:
        return 0

    async def tenant_settings(self, tenant: str) -> Settings:
        return self.settings.get(tenant, Settings())

    async def erased(self) -> dict[str, str]:
        return {}

    async def days_with_detail(self, generation: int, before: date) -> dict[str, list[str]]:
        found: dict[str, set[str]] = {}
        for fact in self.facts.values():
            if retention.is_detail(fact) and fact["day"] < before.isoformat():
                found.setdefault(fact["tenant"], set()).add(fact["day"])
        return {tenant: sorted(days) for tenant, days in found.items()}

    async def engagement_of_day(
        self, generation: int, tenant: str, day: str, *, rolled: bool
    ) -> retention.EngagementDay:
        return retention.EngagementDay(
            tenant,
            day,
            [
                dict(fact)
                for fact in self.facts.values()
                if fact["tenant"] == tenant
                and fact["day"] == day
                and fact["type"] == retention.ENGAGEMENT
                and (retention.ROLLED in fact) == rolled
            ],
        )

    async def insert_facts(self, generation: int, facts: Sequence[dict[str, Any]]) -> list[int]:
        new = []
        for i, fact in enumerate(facts):
            self._write()
            if fact["_id"] not in self.facts:
                self.facts[fact["_id"]] = dict(fact)
                new.append(i)
        return new

    async def append_log(
        self, facts: Sequence[dict[str, Any]], erasures: Any, at: Any, rolled: Any = ()
    ) -> int:
        self._write()
        self.log.append(LogEntry(len(self.log) + 1, 0, list(facts), rolled=tuple(rolled)))
        return len(self.log)

    async def log_written(self, seq: int) -> None:
        pass

    async def delete_detail(self, generation: int, tenant: str, days: Sequence[str]) -> int:
        gone = [
            key
            for key, fact in self.facts.items()
            if fact["tenant"] == tenant and fact["day"] in days and retention.is_detail(fact)
        ]
        for key in gone:
            self._write()  # one by one: a deletion can stop halfway
            del self.facts[key]
        return len(gone)


def _services(repo: FakeRepository) -> handlers.Services:
    return handlers.Services(
        repo=cast(MetricsRepository, repo),
        today=lambda: TODAY,
        clock=lambda: datetime(2026, 11, 2, 9, tzinfo=UTC),
    )


def _table(facts: Sequence[dict[str, Any]]) -> FactTable:
    table = FactTable(0)
    table.add(facts)
    table.compact()
    return table


async def _figures(table: FactTable) -> dict[str, Any]:
    """Every figure the api reads from the facts, over several periods and slices; and the
    right moment, in zones a whole, a half and three quarters of an hour from UTC."""
    services = handlers.Services(repo=cast(MetricsRepository, FakeRepository([])))
    services.today = lambda: TODAY
    figures = Figures(services, T, table)
    out: dict[str, Any] = {}
    periods = [
        (TODAY - timedelta(days=210), TODAY),
        (TODAY - timedelta(days=120), TODAY - timedelta(days=60)),
        (TODAY - timedelta(days=45), TODAY - timedelta(days=31)),
        (TODAY - timedelta(days=1), TODAY - timedelta(days=1)),
    ]
    for start, end in periods:
        for where in (
            Slice(start, end),
            Slice(start, end, network="x"),
            Slice(start, end, group="sales", campaign="camp1"),
            Slice(start, end, kind="job"),
        ):
            key = repr(where)
            out[f"figures {key}"] = await figures.figures(where)
            out[f"funnel {key}"] = await figures.funnel(where)
            out[f"emv {key}"] = await figures.emv(where)
            for dimension in ("content", "advocate", "group", "network", "campaign"):
                out[f"{dimension} {key}"] = await figures.breakdown(where, dimension, "shares", 50)
            for dimension in ("location", "topic"):
                out[f"{dimension} {key}"] = await figures.breakdown(where, dimension, "clicks", 50)
            for granularity in ("day", "week", "month", "year"):
                out[f"series {granularity} {key}"] = await figures.series(where, granularity)
    return out


def _moments(facts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    engagements = [
        (f["time"], f.get("network", ""), sum(f.get(n) or 0 for n in mom.ENGAGING))
        for f in facts
        if f["type"] == retention.ENGAGEMENT
    ]
    out = {}
    for zone in ("UTC", "Europe/Oslo", "Asia/Kolkata", "Asia/Kathmandu", "America/St_Johns"):
        patterns = mom.patterns(engagements, ZoneInfo(zone))
        out[zone] = {network: p.counts for network, p in patterns.items()}
    return out


async def test_every_figure_is_the_same_after_the_roll_up() -> None:
    facts = _facts(_program())
    repo = FakeRepository(facts, days=30)
    before = await _figures(_table(facts)), _moments(facts)

    done = await roll_up_expired(_services(repo))

    after = list(repo.facts.values())
    assert done.days > 50 and done.detail > done.rollups > 0
    oldest_rolled = retention.rolled_before(TODAY, 30).isoformat()
    assert not [f for f in after if retention.is_detail(f) and f["day"] < oldest_rolled]
    assert [f for f in after if retention.is_detail(f)], "recent detail is kept"
    rolled = [f for f in after if retention.ROLLED in f]
    assert all(f["time"].minute % 15 == 0 and f["time"].second == 0 for f in rolled)
    assert all(":rolled:" in f["_id"] for f in rolled)
    assert (await _figures(_table(after)), _moments(after)) == before


async def test_a_roll_up_run_again_changes_nothing() -> None:
    repo = FakeRepository(_facts(_program()), days=30)
    await roll_up_expired(_services(repo))
    once = dict(repo.facts)
    done = await roll_up_expired(_services(repo))
    assert done.days == 0 and repo.facts == once


async def test_a_run_stopped_anywhere_and_run_again_loses_and_doubles_nothing() -> None:
    facts = _facts(_program(seed=3))
    clean = FakeRepository(facts, days=60)
    await roll_up_expired(_services(clean))
    expected = await _figures(_table(list(clean.facts.values())))
    total_writes = clean.writes
    for stop in sorted(
        {
            1,
            2,
            total_writes // 3,
            total_writes // 2,
            total_writes - 1,
            *random.Random(1).sample(range(total_writes), 6),
        }
    ):
        repo = FakeRepository(facts, days=60)
        repo.stop_after = stop
        with pytest.raises(RuntimeError):
            await roll_up_expired(_services(repo))
        repo.stop_after = None
        await roll_up_expired(_services(repo))
        assert repo.facts == clean.facts, stop
    assert await _figures(_table(list(repo.facts.values()))) == expected


async def test_nothing_is_rolled_up_while_a_replay_builds_the_next_generation() -> None:
    repo = FakeRepository(_facts(_program()), days=30)
    repo.settled = False
    done = await roll_up_expired(_services(repo))
    assert done.days == 0 and not repo.log


def _click(n: int, at: datetime) -> EngagementObserved:
    return EngagementObserved.create(
        tenant_id=T,
        subject="s1",
        data=EngagementObservedData(
            engagement_id=f"k{n}",
            share_id="s1",
            employee_id="e1",
            network="linkedin",
            kind="click",
            observed_at=at,
            source="redirect",
        ),
    )


async def test_engagement_older_than_the_retention_is_not_recorded() -> None:
    repo = FakeRepository([], days=30)
    services = _services(repo)
    oldest = datetime.combine(retention.oldest_kept(TODAY, 30), datetime.min.time(), UTC)
    kept, late = _click(1, oldest), _click(2, oldest - timedelta(seconds=1))
    batch = [Consumed(e, e.topic, 0, i) for i, e in enumerate([kept, late])]
    assert [c.event for c in await handlers.within_retention(services, batch)] == [kept]
    # The day refused is older than any day rolled up: no fact lands on a rolled-up day.
    assert late.data.observed_at.date() >= retention.rolled_before(TODAY, 30)


def test_a_roll_up_sums_one_group_per_quarter_hour_whoever_it_names() -> None:
    at = datetime(2026, 1, 5, 10, 7, 30, tzinfo=UTC)
    base = {"tenant": T, "type": retention.ENGAGEMENT, "day": "2026-01-05", "share": "s1"}
    facts = [
        {**base, "_id": "a", "time": at, "advocate": "e1", "clicks": 1, "unique_clicks": 1},
        {**base, "_id": "b", "time": at + timedelta(minutes=7), "advocate": "e1", "clicks": 2},
        {**base, "_id": "c", "time": at + timedelta(minutes=8), "advocate": "e1", "clicks": 1},
    ]
    assert len(retention.roll_up(facts)) == 2
    by_time = {f["time"]: f for f in retention.roll_up(facts)}
    assert by_time[datetime(2026, 1, 5, 10, 0, tzinfo=UTC)]["clicks"] == 3
    assert by_time[datetime(2026, 1, 5, 10, 15, tzinfo=UTC)]["clicks"] == 1
    assert by_time[datetime(2026, 1, 5, 10, 0, tzinfo=UTC)][retention.ROLLED] == 2
    # An erasure renames the advocate: the group, and so the roll-up's id, stay the same.
    renamed = [{**f, "advocate": "p-0123456789abcdef"} for f in facts]
    assert [f["_id"] for f in retention.roll_up(renamed)] == [
        f["_id"] for f in retention.roll_up(facts)
    ]
    # A time read without its zone is the same time.
    naive = [{**f, "time": f["time"].replace(tzinfo=None)} for f in facts]
    assert [f["_id"] for f in retention.roll_up(naive)] == [
        f["_id"] for f in retention.roll_up(facts)
    ]


@pytest.mark.parametrize("seen", ["detail", "both", "neither", "rollups"])
async def test_an_api_ends_with_the_same_figures_whatever_state_its_load_saw(seen: str) -> None:
    facts = _facts(_program(seed=5))
    expected = await _figures(_table(facts))
    repo = FakeRepository(facts, days=30)
    await roll_up_expired(_services(repo))
    after = list(repo.facts.values())
    rolled = {(d.tenant, d.day) for e in repo.log for d in e.rolled}
    assert rolled
    old_detail = [f for f in facts if retention.is_detail(f) and (f["tenant"], f["day"]) in rolled]
    rollups = [f for f in after if retention.ROLLED in f]
    rest = [f for f in after if retention.ROLLED not in f]
    loaded = {
        "detail": facts,
        "both": rest + old_detail + rollups,
        "neither": rest,
        "rollups": after,
    }[seen]
    live = LiveFacts(cast(MetricsRepository, repo), 120)
    live.table = _table(loaded)
    for entry in repo.log:
        live._apply(entry)
    assert await _figures(live.table) == expected
    if seen in ("detail", "both"):
        # Detail the api held stays known: were it logged again, it would add nothing.
        assert live.table.add(old_detail[:5]) == 0


def test_rolled_days_are_read_back_from_a_log_entry() -> None:
    from metrics.adapters.mongo import encode_facts, entry_of

    doc = {
        "_id": 3,
        "facts": encode_facts([]),
        "erasures": [],
        "rev": 0,
        "rolled": [{"tenant": T, "day": "2026-01-05"}],
    }
    assert entry_of(doc).rolled == (RolledDay(T, "2026-01-05"),)
