"""Wires share's handlers to real adapters, for both roles."""

from __future__ import annotations

from functools import partial

from chassis.consumer import subscribe_batch
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition
from contracts.topics import CONTENT_PUBLISHED, ENGAGEMENT_OBSERVED, POST_SHARED
from share.adapters.mongo import ShareRepository
from share.config import ShareSettings
from share.entrypoints import api
from share.service_layer import handlers


async def setup(runtime: Runtime) -> handlers.Services:
    repo = ShareRepository(runtime.db)
    await repo.ensure_indexes()
    settings = runtime.settings
    assert isinstance(settings, ShareSettings)
    return handlers.Services(
        repo=repo,
        outbox=Outbox(repo.shares, runtime.publisher, settings.outbox_lease_seconds),
        public_base_url=settings.public_base_url,
    )


def subscribe(runtime: Runtime) -> None:
    subscribe_batch(
        runtime.broker,
        topics=[CONTENT_PUBLISHED],
        group_id=runtime.settings.consumer_group,
        handler=partial(handlers.on_content_published, runtime.services),
        publisher=runtime.publisher,
    )


def loops(runtime: Runtime) -> list[Loop]:
    services: handlers.Services = runtime.services

    async def outbox_relay() -> None:
        await run_relay([services.outbox])

    return [outbox_relay]


DEFINITION = ServiceDefinition(
    name="share",
    settings_class=ShareSettings,
    setup=setup,
    publishes=[POST_SHARED, ENGAGEMENT_OBSERVED],
    consumes=[CONTENT_PUBLISHED],
    routers=lambda: [api.router],
    subscribe=subscribe,
    loops=loops,
    description="Sharing: advocates, one-tap shares, tracked links and engagement capture.",
)
