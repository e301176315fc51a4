"""Wires metrics' handlers to real adapters, for both roles."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from functools import partial
from typing import TYPE_CHECKING

from cachetools import TTLCache
from fastapi import APIRouter

from chassis.consumer import subscribe_batch
from chassis.erasure import Confirmations
from chassis.health import NotReady
from chassis.outbox import run_relay
from chassis.process import Loop, Runtime, ServiceDefinition, periodic
from chassis.telemetry import traced_batches
from contracts import ALL_EVENTS
from contracts.catalogue import ERASURE_TOPICS
from contracts.topics import ERASURE_COMPLETED, WIN_TOLD
from metrics.adapters.mongo import MetricsRepository
from metrics.config import MetricsSettings
from metrics.service_layer import handlers, retention

if TYPE_CHECKING:
    from metrics.adapters.live import LiveFacts

# Measurement reads every event of the program. The directory's people are not among its
# facts: a share carries its sharer's team and location when it was made, and erasure comes
# as an advocate's opt-out with `erase`; how far an erasure got (its request and each
# service's confirmation) is no figure of the program either.
CONSUMES = [
    event.topic
    for event in ALL_EVENTS
    if event.service != "people" and not event.internal and event.topic not in ERASURE_TOPICS
]
# Figures are to show a click within a second. How long a poll waits for records:
# FastStream sleeps as long again after an empty poll, so a click arriving on quiet topics
# waited up to 200 ms with the default 100 ms.
POLL_TIMEOUT_MS = 10
# How long the broker may hold a fetch that found nothing. At 1,000 clicks/s the worker
# now and then got nothing for 0.5 s (the default) and then 600 records at once, the
# newest 50 ms old: the fetch had waited out its time although records were coming in.
FETCH_MAX_WAIT_MS = 100
log = logging.getLogger(__name__)


async def setup(runtime: Runtime) -> handlers.Services:
    settings = runtime.settings
    assert isinstance(settings, MetricsSettings)
    repo = MetricsRepository(runtime.db)
    await repo.ensure_indexes()
    patterns = TTLCache[tuple[str, int], handlers.Patterns](
        maxsize=1024, ttl=settings.moments_cache_seconds
    )
    repo.use_outbox(runtime.publisher, settings.outbox_lease_seconds)
    confirmations = Confirmations(
        runtime.db, runtime.publisher, "metrics", settings.outbox_lease_seconds
    )
    await confirmations.ensure_indexes()
    services = handlers.Services(repo=repo, patterns=patterns, confirmations=confirmations)
    if runtime.role == "api":
        # Imported here: the live figures need numpy, which the worker never loads.
        from metrics.adapters.live import LiveFacts

        services.live = LiveFacts(repo, settings.fact_log_retention_seconds)
        _load_before_ready(runtime, services, services.live, settings)
    return services


def _load_before_ready(
    runtime: Runtime, services: handlers.Services, live: LiveFacts, settings: MetricsSettings
) -> None:
    """Load the facts in the background, then keep following the log between requests;
    /readyz says not ready until the first load is done."""
    from metrics.service_layer import reading

    loaded = asyncio.Event()

    async def follow() -> None:
        while True:
            try:
                await live.fresh()
                if not loaded.is_set():
                    assert live.table is not None
                    await reading.warm(services, live.table)
                loaded.set()
            except Exception:
                log.exception("following the fact log failed")
            await asyncio.sleep(settings.follow_interval_seconds)

    task = asyncio.create_task(follow(), name="facts-follow")

    async def ready() -> None:
        if not loaded.is_set():
            raise NotReady("loading the facts")

    async def stop() -> None:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)

    runtime.readiness.add("facts", ready)
    runtime.on_close.append(stop)


def _routers() -> list[APIRouter]:
    # The api role's only: a worker starts without the routes' modules (0.2 s).
    from metrics.entrypoints import api

    return [api.router]


def subscribe(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, MetricsSettings)
    subscribe_batch(
        runtime.broker,
        topics=CONSUMES,
        group_id=settings.consumer_group,
        handler=traced_batches(
            partial(handlers.on_events, runtime.services),
            settings.consumer_group,
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
        max_records=settings.batch_size,
        batch_timeout_ms=POLL_TIMEOUT_MS,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        progress=runtime.db,
    )


def loops(runtime: Runtime) -> list[Loop]:
    settings = runtime.settings
    assert isinstance(settings, MetricsSettings)

    async def gauges() -> None:
        await handlers.refresh_gauges(runtime.services)

    async def wins_relay() -> None:
        services: handlers.Services = runtime.services
        assert services.repo.wins_outbox is not None
        confirmations = [services.confirmations.outbox] if services.confirmations else []
        await run_relay([services.repo.wins_outbox, *confirmations])

    async def trim_log() -> None:
        services: handlers.Services = runtime.services
        keep = timedelta(seconds=settings.fact_log_retention_seconds)
        await services.repo.trim_log(services.clock() - keep)

    async def roll_up_expired() -> None:
        await retention.roll_up_expired(runtime.services)

    return [
        periodic(settings.gauge_interval_seconds, gauges),
        wins_relay,
        periodic(settings.fact_log_retention_seconds / 4, trim_log),
        periodic(settings.retention_interval_seconds, roll_up_expired),
    ]


DEFINITION = ServiceDefinition(
    name="metrics",
    settings_class=MetricsSettings,
    setup=setup,
    consumes=CONSUMES,
    publishes=[WIN_TOLD, ERASURE_COMPLETED],
    routers=_routers,
    subscribe=subscribe,
    loops=loops,
    description="Measurement: live program analytics.",
)
