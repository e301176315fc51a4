"""A generated advocacy program, and its figures computed independently of the service.

The expected figures are computed here from the generated events with plain Python, on
purpose without the service's own code, so a test compares two separate computations.
"""

from __future__ import annotations

import asyncio
import os
import random
import subprocess
import sys
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

from aiokafka import AIOKafkaProducer

import support
from contracts import (
    ALL_EVENTS,
    AdvocateEnrolled,
    AdvocateEnrolledData,
    AdvocateOptedOut,
    AdvocateOptedOutData,
    AnyEvent,
    BadgeEarned,
    BadgeEarnedData,
    ContentPublished,
    ContentPublishedData,
    EngagementObserved,
    EngagementObservedData,
    GuidelinesAcknowledged,
    GuidelinesAcknowledgedData,
    PostShared,
    PostSharedData,
    RewardRedeemed,
    RewardRedeemedData,
)
from support import KAFKA, ServiceProcess

NETWORKS = ["linkedin", "x", "facebook", "xing"]
TEAMS = ["sales", "engineering", "marketing", "hr", "support"]
ENGAGEMENT_FIELDS = {
    "click": "clicks",
    "reaction": "reactions",
    "comment": "comments",
    "reshare": "reshares",
    "impression": "impressions",
    "conversion": "conversions",
}


@dataclass
class Program:
    tenant: str
    first_day: date
    last_day: date
    events: list[AnyEvent] = field(default_factory=list)
    teams: dict[str, str] = field(default_factory=dict)  # advocate -> team
    content: dict[str, dict[str, str]] = field(default_factory=dict)  # id -> kind, campaign
    enrolled_at: dict[str, datetime] = field(default_factory=dict)
    opted_out_at: dict[str, datetime] = field(default_factory=dict)
    published_at: datetime | None = None


def _at(day: date, rng: random.Random) -> datetime:
    return datetime.combine(day, time(0), UTC) + timedelta(seconds=rng.randrange(86_400))


def generate(
    tenant: str,
    *,
    days: int = 56,
    advocates: int = 40,
    items: int = 12,
    shares: int = 600,
    seed: int = 7,
    last_day: date | None = None,
    employee_prefix: str = "e",
) -> Program:
    """A program of `advocates` employees (ids `<employee_prefix>0000`, ...) sharing
    `items` content items `shares` times over `days` days, with their engagement."""
    rng = random.Random(seed)
    last = last_day or datetime.now(UTC).date() - timedelta(days=1)
    first = last - timedelta(days=days - 1)
    program = Program(tenant, first, last)
    add = program.events.append

    for n in range(items):
        content_id = f"c{n:03d}"
        kind = "job" if n % 3 == 0 else "article"
        campaign = f"camp{n % 4}" if n % 2 == 0 else ""
        program.content[content_id] = {"kind": kind, "campaign": campaign}
        add(
            ContentPublished.create(
                tenant_id=tenant,
                subject=content_id,
                time=_at(first + timedelta(days=n % 5), rng),
                data=ContentPublishedData(
                    content_id=content_id,
                    title=f"Item {n}",
                    kind=kind,
                    publish_at=_at(first, rng),
                    campaign_id=campaign or None,
                    published_by="curator",
                ),
            )
        )

    people = [f"{employee_prefix}{n:04d}" for n in range(advocates)]
    for n, employee in enumerate(people):
        team = TEAMS[n % len(TEAMS)]
        program.teams[employee] = team
        enrolled = _at(first + timedelta(days=rng.randrange(days // 2)), rng)
        program.enrolled_at[employee] = enrolled
        add(
            AdvocateEnrolled.create(
                tenant_id=tenant,
                subject=employee,
                time=enrolled,
                data=AdvocateEnrolledData(
                    employee_id=employee,
                    employee_groups=[team],
                    consent_at=enrolled,
                    networks=["linkedin"],
                ),
            )
        )
        if n % 9 == 4:
            gone = enrolled + timedelta(days=rng.randrange(1, days // 2))
            program.opted_out_at[employee] = gone
            add(
                AdvocateOptedOut.create(
                    tenant_id=tenant,
                    subject=employee,
                    time=gone,
                    data=AdvocateOptedOutData(employee_id=employee, opted_out_at=gone),
                )
            )

    # A few advocates do most of the sharing, as in real programs.
    weights = [1 / (1 + n) ** 0.8 for n in range(advocates)]
    for n in range(shares):
        employee = rng.choices(people, weights)[0]
        content_id = rng.choice(list(program.content))
        item = program.content[content_id]
        network = rng.choice(NETWORKS)
        day = first + timedelta(days=rng.randrange(days))
        shared_at = _at(day, rng)
        share_id = f"s{n:06d}"
        common = {
            "campaign_id": item["campaign"] or None,
            "content_kind": item["kind"],
        }
        add(
            PostShared.create(
                tenant_id=tenant,
                subject=share_id,
                time=shared_at,
                data=PostSharedData(
                    share_id=share_id,
                    content_id=content_id,
                    employee_id=employee,
                    employee_groups=[program.teams[employee]],
                    network=network,
                    short_code=f"k{n:07d}",
                    tracked_url=f"https://go.example.com/l/k{n:07d}",
                    shared_at=shared_at,
                    audience_size=rng.randrange(50, 3000),
                    method="intent",
                    **common,
                ),
            )
        )
        plan = {
            "click": rng.randrange(0, 7),
            "reaction": rng.randrange(0, 4),
            "comment": rng.randrange(0, 2),
            "reshare": rng.randrange(0, 2),
            "impression": rng.randrange(0, 2),
            "conversion": rng.randrange(0, 2) if item["kind"] == "job" else 0,
        }
        sequence = 0
        for kind, times in plan.items():
            for _ in range(times):
                sequence += 1
                seen = min(day + timedelta(days=rng.randrange(0, 4)), last)
                add(
                    EngagementObserved.create(
                        tenant_id=tenant,
                        subject=share_id,
                        data=EngagementObservedData(
                            engagement_id=f"{share_id}-{sequence}",
                            share_id=share_id,
                            content_id=content_id,
                            employee_id=employee,
                            network=network,
                            kind=kind,
                            count=rng.randrange(100, 900) if kind == "impression" else 1,
                            observed_at=max(_at(seen, rng), shared_at),
                            source="redirect" if kind == "click" else "webhook",
                            unique=kind == "click" and rng.random() < 0.6,
                            **common,
                        ),
                    )
                )
    for n, employee in enumerate(people[:10]):
        at = _at(first + timedelta(days=n), rng)
        add(
            BadgeEarned.create(
                tenant_id=tenant,
                subject=employee,
                data=BadgeEarnedData(
                    award_id=f"b{n}",
                    employee_id=employee,
                    badge="first-share",
                    name="First share",
                    earned_at=at,
                ),
            )
        )
        add(
            RewardRedeemed.create(
                tenant_id=tenant,
                subject=employee,
                data=RewardRedeemedData(
                    redemption_id=f"r{n}",
                    employee_id=employee,
                    item_id="mug",
                    item_name="Mug",
                    points=50,
                    redeemed_at=at,
                ),
            )
        )
        add(
            GuidelinesAcknowledged.create(
                tenant_id=tenant,
                subject=employee,
                data=GuidelinesAcknowledgedData(
                    employee_id=employee, guidelines_version=1, acknowledged_at=at
                ),
            )
        )
    rng.shuffle(program.events)
    return program


async def publish(events: list[AnyEvent]) -> None:
    producer = AIOKafkaProducer(
        bootstrap_servers=KAFKA, acks="all", enable_idempotence=True, linger_ms=20
    )
    await producer.start()
    try:
        for start in range(0, len(events), 2000):
            sent = [
                await producer.send(e.topic, e.to_json(), key=e.partition_key().encode())
                for e in events[start : start + 2000]
            ]
            for future in sent:
                await future
    finally:
        await producer.stop()


# -- the independent computation -------------------------------------------------------


def _when(event: AnyEvent) -> datetime:
    data = event.data
    for name in (
        "shared_at",
        "observed_at",
        "awarded_at",
        "earned_at",
        "redeemed_at",
        "acknowledged_at",
        "opted_out_at",
    ):
        if hasattr(data, name):
            return getattr(data, name)
    return event.time


def expected(
    program: Program,
    start: date,
    end: date,
    *,
    team: str | None = None,
    network: str | None = None,
    campaign: str | None = None,
    prices: dict[str, Any] | None = None,
    employees: int | None = None,
) -> dict[str, Any]:
    """The figures of a period, computed from the generated events."""
    out: dict[str, Any] = defaultdict(int)
    active: set[str] = set()
    reach_by_network: dict[str, int] = defaultdict(int)
    for event in program.events:
        day = _when(event).date()
        if not start <= day <= end:
            continue
        data = event.data
        employee = getattr(data, "employee_id", None)
        if team is not None and program.teams.get(employee) != team:
            continue
        if network is not None and getattr(data, "network", None) != network:
            continue
        if campaign is not None and getattr(data, "campaign_id", None) != campaign:
            continue
        if isinstance(event, PostShared):
            out["shares"] += 1
            out["reach"] += data.audience_size
            reach_by_network[data.network.value] += data.audience_size
            active.add(employee)
        elif isinstance(event, EngagementObserved):
            out[ENGAGEMENT_FIELDS[data.kind.value]] += data.count
            if data.kind.value == "click" and data.unique:
                out["unique_clicks"] += data.count
    enrolled = [
        e
        for e in program.teams
        if (team is None or program.teams[e] == team)
        and program.enrolled_at[e].date() <= end
        and not (e in program.opted_out_at and program.opted_out_at[e].date() <= end)
    ]
    engagements = out["clicks"] + out["reactions"] + out["comments"] + out["reshares"]
    result: dict[str, Any] = dict(out)
    result["engagements"] = engagements
    result["active_advocates"] = len(active)
    result["enrolled_advocates"] = len(enrolled)
    result["participation"] = len(active) / len(enrolled) if enrolled else None
    result["shares_per_active_advocate"] = out["shares"] / len(active) if active else None
    result["engagement_rate"] = engagements / out["reach"] if out["reach"] else None
    result["click_through_rate"] = out["unique_clicks"] / out["reach"] if out["reach"] else None
    if employees:
        result["participation_of_employees"] = len(active) / employees
    if prices:
        result["earned_media_value"] = round(
            sum(r / 1000 * prices["cpm"].get(n, 0) for n, r in reach_by_network.items())
            + out["clicks"] * prices["cpc"]
            + (out["reactions"] + out["comments"] + out["reshares"]) * prices["per_engagement"],
            2,
        )
    return result


def per(program: Program, dimension: str, start: date, end: date) -> dict[str, dict[str, int]]:
    """Shares, reach, clicks, unique clicks and conversions per advocate, team, network,
    content item or campaign."""
    table: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for event in program.events:
        if not isinstance(event, PostShared | EngagementObserved):
            continue
        if not start <= _when(event).date() <= end:
            continue
        data = event.data
        key = {
            "advocate": data.employee_id,
            "group": program.teams[data.employee_id],
            "network": data.network.value,
            "content": data.content_id,
            "campaign": data.campaign_id,
        }[dimension]
        if not key:
            continue
        row = table[key]
        if isinstance(event, PostShared):
            row["shares"] += 1
            row["reach"] += data.audience_size
        else:
            row[ENGAGEMENT_FIELDS[data.kind.value]] += data.count
            if data.kind.value == "click" and data.unique:
                row["unique_clicks"] += data.count
    return table


def series(program: Program, granularity: str) -> dict[str, int]:
    """Shares per day, ISO week, month or year over the whole program."""
    out: dict[str, int] = defaultdict(int)
    for event in program.events:
        if isinstance(event, PostShared):
            day = event.data.shared_at.date()
            if granularity == "week":
                year, week, _ = day.isocalendar()
                label = f"{year}-W{week:02d}"
            else:
                label = {"day": day.isoformat(), "month": day.isoformat()[:7]}.get(
                    granularity, str(day.year)
                )
            out[label] += 1
    return dict(out)


def totals(program: Program) -> dict[str, int]:
    """Counters over every event, for waiting until the worker has counted them all.

    Points and badges are left out: rewards workers of other tests on the same Kafka may
    award some for our shares."""
    out: dict[str, int] = defaultdict(int)
    for event in program.events:
        if isinstance(event, PostShared):
            out["shares"] += 1
        elif isinstance(event, EngagementObserved):
            out[ENGAGEMENT_FIELDS[event.data.kind.value]] += event.data.count
    return dict(out)


async def start_metrics(
    log_dir: Path,
    suffix: str,
    roles: tuple[str, ...] = ("api", "worker"),
    more_env: dict[str, str] | None = None,
) -> dict[str, ServiceProcess]:
    """Metrics processes with a database and a consumer group of their own."""
    env = {
        "METRICS_DATABASE": f"chorus_metrics_{suffix}",
        "METRICS_CONSUMER_GROUP": f"metrics-{suffix}",
        "METRICS_GAUGE_INTERVAL_SECONDS": "1",
        **(more_env or {}),
    }
    await _start_at_the_end(env["METRICS_CONSUMER_GROUP"])
    processes = {
        role: ServiceProcess("metrics", role, env=dict(env)).start(log_dir) for role in roles
    }
    for process in processes.values():
        await asyncio.to_thread(process.wait_healthy)
    return processes


async def _start_at_the_end(group: str) -> None:
    """Other tests' events on the shared Kafka are not this worker's to count."""
    await support.start_group_at_end(group, [event.topic for event in ALL_EVENTS])


def replay_since_published(database: str, program: Program) -> str:
    """`python -m metrics replay --since` from just before the program's events; its output.

    Not from the beginning: the shared Kafka holds other tests' records, too many to read
    again here. Facts of earlier events are copied."""
    assert program.published_at is not None
    since = (program.published_at - timedelta(minutes=1)).isoformat()
    done = subprocess.run(
        [sys.executable, "-m", "metrics", "replay", "--since", since],
        env={**os.environ, "METRICS_DATABASE": database},
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done.stdout


async def wait_for(probe, check, timeout: float = 180.0):
    """Poll once a second: each poll reads every fact of the tenant."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = await probe()
        if check(result):
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"not reached within {timeout} s; last: {result!r}")
        await asyncio.sleep(1.0)
