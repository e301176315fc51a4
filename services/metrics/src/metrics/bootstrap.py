"""Wires metrics' handlers to real adapters, for both roles."""

from __future__ import annotations

import logging
from functools import partial

from cachetools import TTLCache

from chassis.consumer import subscribe_batch
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition, periodic
from contracts import ALL_EVENTS
from contracts.topics import WIN_TOLD
from metrics.adapters.mongo import MetricsRepository
from metrics.config import MetricsSettings
from metrics.entrypoints import api
from metrics.service_layer import handlers

# Measurement reads every event the platform publishes.
CONSUMES = [event.topic for event in ALL_EVENTS]
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
    wins = Outbox(repo.wins, runtime.publisher, settings.outbox_lease_seconds)
    return handlers.Services(repo=repo, patterns=patterns, wins_outbox=wins)


def subscribe(runtime: Runtime) -> None:
    settings = runtime.settings
    assert isinstance(settings, MetricsSettings)
    subscribe_batch(
        runtime.broker,
        topics=CONSUMES,
        group_id=settings.consumer_group,
        handler=partial(handlers.on_events, runtime.services),
        publisher=runtime.publisher,
        max_records=settings.batch_size,
        batch_timeout_ms=POLL_TIMEOUT_MS,
        fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
    )


def loops(runtime: Runtime) -> list[Loop]:
    settings = runtime.settings
    assert isinstance(settings, MetricsSettings)

    async def gauges() -> None:
        await handlers.refresh_gauges(runtime.services)

    async def wins_relay() -> None:
        services: handlers.Services = runtime.services
        assert services.wins_outbox is not None
        await run_relay([services.wins_outbox])

    return [periodic(settings.gauge_interval_seconds, gauges), wins_relay]


DEFINITION = ServiceDefinition(
    name="metrics",
    settings_class=MetricsSettings,
    setup=setup,
    consumes=CONSUMES,
    publishes=[WIN_TOLD],
    routers=lambda: [api.router],
    subscribe=subscribe,
    loops=loops,
    description="Measurement: live program analytics.",
)
