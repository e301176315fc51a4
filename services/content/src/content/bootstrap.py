"""Wires content's handlers to real adapters, for both roles."""

from __future__ import annotations

import asyncio
import logging
from functools import partial

from chassis.consumer import subscribe_batch
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition
from content.adapters.mongo import ContentRepository
from content.adapters.preview import LinkPreviewer
from content.config import ContentSettings
from content.entrypoints import api
from content.service_layer import handlers
from contracts.topics import (
    CONTENT_PUBLISHED,
    CONTENT_RETIRED,
    CONTENT_UPDATED,
    GUIDELINES_ACKNOWLEDGED,
    GUIDELINES_PUBLISHED,
    POST_SHARED,
)

log = logging.getLogger(__name__)


async def setup(runtime: Runtime) -> handlers.Services:
    settings = runtime.settings
    assert isinstance(settings, ContentSettings)
    repo = ContentRepository(runtime.db)
    await repo.ensure_indexes()
    lease = settings.outbox_lease_seconds
    return handlers.Services(
        repo=repo,
        outbox=Outbox(repo.items, runtime.publisher, lease),
        guidelines_outbox=Outbox(repo.guidelines, runtime.publisher, lease),
        acknowledgements_outbox=Outbox(repo.acknowledgements, runtime.publisher, lease),
        previewer=LinkPreviewer(
            timeout=settings.preview_timeout_seconds,
            max_bytes=settings.preview_max_bytes,
            max_redirects=settings.preview_max_redirects,
            allowed_hosts=settings.preview_allowed,
        ),
    )


def subscribe(runtime: Runtime) -> None:
    subscribe_batch(
        runtime.broker,
        topics=[POST_SHARED],
        group_id=runtime.settings.consumer_group,
        handler=partial(handlers.on_post_shared, runtime.services),
        publisher=runtime.publisher,
    )


def loops(runtime: Runtime) -> list[Loop]:
    services: handlers.Services = runtime.services
    settings = runtime.settings
    assert isinstance(settings, ContentSettings)

    async def outbox_relay() -> None:
        await run_relay(
            [services.outbox, services.guidelines_outbox, services.acknowledgements_outbox]
        )

    async def scheduler() -> None:
        # Publishing and expiry happen on time with nobody asking: this loop is the clock.
        while True:
            moved = await handlers.run_schedule(services)
            if moved:
                log.info("schedule applied", extra={"items": moved})
            await asyncio.sleep(settings.schedule_interval_seconds)

    return [outbox_relay, scheduler]


DEFINITION = ServiceDefinition(
    name="content",
    settings_class=ContentSettings,
    setup=setup,
    publishes=[
        CONTENT_PUBLISHED,
        CONTENT_UPDATED,
        CONTENT_RETIRED,
        GUIDELINES_PUBLISHED,
        GUIDELINES_ACKNOWLEDGED,
    ],
    consumes=[POST_SHARED],
    routers=lambda: api.routers,
    subscribe=subscribe,
    loops=loops,
    description="Content hub: curated and employee-suggested content worth sharing.",
)
