"""Wires rewards' handlers to real adapters, for both roles."""

from __future__ import annotations

import asyncio
import gc
import logging
from datetime import timedelta
from functools import partial

from chassis import directory
from chassis.bulk import BatchPublisher
from chassis.consumer import subscribe_batch
from chassis.erasure import Confirmations
from chassis.health import NotReady
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition, periodic
from chassis.telemetry import traced_batches
from contracts.topics import (
    ADVOCATE_ENROLLED,
    ADVOCATE_OPTED_OUT,
    BADGE_EARNED,
    BUDDY_FEEDBACK_GIVEN,
    ENGAGEMENT_OBSERVED,
    ERASURE_COMPLETED,
    ONBOARDING_STEP_COMPLETED,
    POINTS_AWARDED,
    POST_SHARED,
    REWARD_REDEEMED,
)
from rewards.adapters.mongo import RewardsRepository
from rewards.config import RewardsSettings
from rewards.entrypoints import api
from rewards.service_layer import handlers
from rewards.service_layer.leaderboards import Leaderboards

log = logging.getLogger(__name__)

CONSUMES = [
    POST_SHARED,
    ENGAGEMENT_OBSERVED,
    ADVOCATE_ENROLLED,
    ADVOCATE_OPTED_OUT,
    BUDDY_FEEDBACK_GIVEN,
    ONBOARDING_STEP_COMPLETED,
]
# Producer buffer per partition for the worker's events (under Kafka's 1 MiB per batch).
BATCH_PUBLISH_BYTES = 512 * 1024
# Allocations between young-generation collections in the worker (default 700).
GC_THRESHOLD = 50_000


async def setup(runtime: Runtime) -> api.Components:
    settings = runtime.settings
    assert isinstance(settings, RewardsSettings)
    repo = RewardsRepository(runtime.db)
    await repo.ensure_indexes()
    lease = settings.outbox_lease_seconds
    confirmations = Confirmations(runtime.db, runtime.publisher, "rewards", lease)
    await confirmations.ensure_indexes()
    publisher: handlers.Publisher = runtime.publisher
    batches = None
    if runtime.role == "worker":
        # A batch allocates hundreds of thousands of short-lived objects (parsed events,
        # documents, awards); with the default thresholds the collector ran over and over
        # on every surviving object and took a good part of parsing a batch. (What startup
        # built is frozen by the chassis once the process is up.)
        gc.set_threshold(GC_THRESHOLD, 20, 100)
        batches = BatchPublisher(
            settings.kafka_bootstrap_servers,
            "chorus-rewards-batches",
            BATCH_PUBLISH_BYTES,
            security=runtime.kafka_security,
        )
        await batches.start()
        runtime.on_close.append(batches.stop)
        publisher = batches
    services = handlers.Services(
        repo=repo,
        publisher=publisher,
        unit_outbox=Outbox(repo.units, runtime.publisher, lease),
        clawback_outbox=Outbox(repo.clawbacks, runtime.publisher, lease),
        month_badge_outbox=Outbox(repo.month_badges, runtime.publisher, lease),
        month_end_grace=timedelta(seconds=settings.month_end_grace_seconds),
        tenants=frozenset(settings.tenants) or None,
        confirmations=confirmations,
    )
    leaderboards = Leaderboards(repo, settings.leaderboard_refresh_seconds, services.clock)
    if runtime.role == "api":
        _warm_before_ready(runtime, leaderboards, repo)
    return api.Components(services=services, leaderboards=leaderboards)


def _warm_before_ready(
    runtime: Runtime, leaderboards: Leaderboards, repo: RewardsRepository
) -> None:
    """Load every tenant's leaderboards in the background; /readyz says not ready until
    they are, so no request waits for a cold snapshot (a failed load is left to the first
    request, as before, rather than keeping the api out of service)."""

    async def warm() -> None:
        try:
            await leaderboards.warm(await repo.ranked_tenants())
        except Exception:
            log.exception("loading the leaderboards before serving failed")

    task = asyncio.create_task(warm(), name="leaderboards-warm")

    async def warmed() -> None:
        if not task.done():
            raise NotReady("loading the leaderboards")

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    runtime.readiness.add("leaderboards", warmed)
    runtime.on_close.append(stop)


def subscribe(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, RewardsSettings)
    components: api.Components = runtime.services
    subscribe_batch(
        runtime.broker,
        topics=CONSUMES,
        group_id=settings.consumer_group,
        handler=traced_batches(
            partial(handlers.on_events, components.services),
            settings.consumer_group,
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
        max_records=settings.batch_size,
        progress=runtime.db,
    )
    # Team scopes follow the directory's groups.
    directory.subscribe(runtime)


def loops(runtime: Runtime) -> list[Loop]:
    settings = runtime.settings
    assert isinstance(settings, RewardsSettings)
    services: handlers.Services = runtime.services.services
    outboxes = [services.unit_outbox, services.clawback_outbox]
    if services.confirmations is not None:
        outboxes.append(services.confirmations.outbox)
    if services.month_badge_outbox is not None:
        outboxes.append(services.month_badge_outbox)

    async def outbox_relay() -> None:
        await run_relay(outboxes, interval=0.5)

    async def month_end_badges() -> None:
        # Every replica runs it; a month is decided and each badge emitted once (see
        # handlers.close_months). A failure restarts the loop after a pause.
        await handlers.close_months(services)

    return [outbox_relay, periodic(settings.month_end_interval_seconds, month_end_badges)]


DEFINITION = ServiceDefinition(
    name="rewards",
    settings_class=RewardsSettings,
    setup=setup,
    publishes=[POINTS_AWARDED, BADGE_EARNED, REWARD_REDEEMED, ERASURE_COMPLETED],
    consumes=[*CONSUMES, *directory.PERSON_TOPICS],
    directory=True,
    routers=lambda: api.routers(),
    subscribe=subscribe,
    loops=loops,
    description="Gamification: transparent points, badges, leaderboards, challenges and rewards.",
)
