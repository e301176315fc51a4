"""Wires metrics' handlers to real adapters, for both roles."""

from __future__ import annotations

from functools import partial

from chassis.consumer import subscribe_batch
from chassis.process import Runtime, ServiceDefinition
from contracts.topics import CONTENT_PUBLISHED, ENGAGEMENT_OBSERVED, POINTS_AWARDED, POST_SHARED
from metrics.adapters.mongo import FiguresRepository
from metrics.config import MetricsSettings
from metrics.entrypoints import api
from metrics.service_layer import handlers

CONSUMES = [CONTENT_PUBLISHED, POST_SHARED, ENGAGEMENT_OBSERVED, POINTS_AWARDED]


async def setup(runtime: Runtime) -> handlers.Services:
    repo = FiguresRepository(runtime.db)
    await repo.ensure_indexes()
    return handlers.Services(repo=repo)


def subscribe(runtime: Runtime) -> None:
    subscribe_batch(
        runtime.broker,
        topics=CONSUMES,
        group_id=runtime.settings.consumer_group,
        handler=partial(handlers.on_events, runtime.services),
        publisher=runtime.publisher,
    )


DEFINITION = ServiceDefinition(
    name="metrics",
    settings_class=MetricsSettings,
    setup=setup,
    consumes=CONSUMES,
    routers=lambda: [api.router],
    subscribe=subscribe,
    description="Measurement: live program analytics.",
)
