"""Wires rewards' handlers to real adapters, for both roles."""

from __future__ import annotations

from functools import partial

from chassis.consumer import subscribe_batch
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition
from contracts.topics import (
    ADVOCATE_ENROLLED,
    ADVOCATE_OPTED_OUT,
    BADGE_EARNED,
    ENGAGEMENT_OBSERVED,
    POINTS_AWARDED,
    POST_SHARED,
    REWARD_REDEEMED,
)
from rewards.adapters.mongo import RewardsRepository
from rewards.config import RewardsSettings
from rewards.entrypoints import api
from rewards.service_layer import handlers
from rewards.service_layer.leaderboards import Leaderboards

CONSUMES = [POST_SHARED, ENGAGEMENT_OBSERVED, ADVOCATE_ENROLLED, ADVOCATE_OPTED_OUT]


async def setup(runtime: Runtime) -> api.Components:
    settings = runtime.settings
    assert isinstance(settings, RewardsSettings)
    repo = RewardsRepository(runtime.db)
    await repo.ensure_indexes()
    lease = settings.outbox_lease_seconds
    services = handlers.Services(
        repo=repo,
        publisher=runtime.publisher,
        unit_outbox=Outbox(repo.units, runtime.publisher, lease),
        clawback_outbox=Outbox(repo.clawbacks, runtime.publisher, lease),
        tenants=frozenset(t.strip() for t in settings.tenants.split(",") if t.strip()) or None,
    )
    return api.Components(
        services=services,
        leaderboards=Leaderboards(repo, settings.leaderboard_refresh_seconds),
    )


def subscribe(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, RewardsSettings)
    components: api.Components = runtime.services
    subscribe_batch(
        runtime.broker,
        topics=CONSUMES,
        group_id=settings.consumer_group,
        handler=partial(handlers.on_events, components.services),
        publisher=runtime.publisher,
        max_records=settings.batch_size,
    )


def loops(runtime: Runtime) -> list[Loop]:
    services = runtime.services.services

    async def outbox_relay() -> None:
        await run_relay([services.unit_outbox, services.clawback_outbox], interval=0.5)

    return [outbox_relay]


DEFINITION = ServiceDefinition(
    name="rewards",
    settings_class=RewardsSettings,
    setup=setup,
    publishes=[POINTS_AWARDED, BADGE_EARNED, REWARD_REDEEMED],
    consumes=CONSUMES,
    routers=lambda: api.routers(),
    subscribe=subscribe,
    loops=loops,
    description="Gamification: transparent points, badges, leaderboards, challenges and rewards.",
)
