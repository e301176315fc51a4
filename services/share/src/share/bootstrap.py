"""Wires share's handlers to real adapters, for both roles."""

from __future__ import annotations

import asyncio
from functools import partial

from chassis.consumer import subscribe_batch
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition
from contracts.topics import (
    ADVOCATE_ENROLLED,
    ADVOCATE_OPTED_OUT,
    CONTENT_PUBLISHED,
    CONTENT_RETIRED,
    CONTENT_UPDATED,
    ENGAGEMENT_OBSERVED,
    GUIDELINES_ACKNOWLEDGED,
    GUIDELINES_PUBLISHED,
    POST_SHARED,
)
from share.adapters.clicks import ClickRecorder, LinkCache
from share.adapters.mongo import ShareRepository
from share.adapters.networks import LinkedInPoster, TokenVault
from share.config import ShareSettings
from share.domain.clicks import DailySalts
from share.entrypoints import api, redirect
from share.service_layer import handlers


async def setup(runtime: Runtime) -> handlers.Services:
    repo = ShareRepository(runtime.db)
    await repo.ensure_indexes()
    settings = runtime.settings
    assert isinstance(settings, ShareSettings)
    lease = settings.outbox_lease_seconds
    return handlers.Services(
        repo=repo,
        shares_outbox=Outbox(repo.shares, runtime.publisher, lease),
        advocates_outbox=Outbox(repo.advocates, runtime.publisher, lease),
        engagements_outbox=Outbox(repo.engagements, runtime.publisher, lease),
        clicks=ClickRecorder(repo, runtime.publisher, settings.click_lease_seconds),
        links_cache=LinkCache(repo),
        salts=DailySalts(settings.link_secret.encode()),
        vault=TokenVault(repo, settings.token_key),
        public_base_url=settings.public_base_url,
        default_daily_cap=settings.default_daily_cap,
        link_secret=settings.link_secret.encode(),
        webhook_secret=settings.webhook_secret.encode(),
        posters={"linkedin": LinkedInPoster(settings.linkedin_api_url, settings.linkedin_version)},
    )


def subscribe(runtime: Runtime) -> None:
    services: handlers.Services = runtime.services
    group = runtime.settings.consumer_group
    subscribe_batch(
        runtime.broker,
        topics=[
            CONTENT_PUBLISHED,
            CONTENT_UPDATED,
            CONTENT_RETIRED,
            GUIDELINES_PUBLISHED,
            GUIDELINES_ACKNOWLEDGED,
        ],
        group_id=group,
        handler=partial(handlers.on_content_events, services),
        publisher=runtime.publisher,
    )
    # A group of its own: the click counters are hot, content copies are not.
    subscribe_batch(
        runtime.broker,
        topics=[ENGAGEMENT_OBSERVED],
        group_id=f"{group}-engagement-counters",
        handler=partial(handlers.on_engagements, services),
        publisher=runtime.publisher,
    )


def loops(runtime: Runtime) -> list[Loop]:
    services: handlers.Services = runtime.services
    settings = runtime.settings
    assert isinstance(settings, ShareSettings)

    clicks = Outbox(services.repo.click_batches, runtime.publisher, settings.click_lease_seconds)

    async def outbox_relay() -> None:
        await run_relay(
            [
                services.shares_outbox,
                services.advocates_outbox,
                services.engagements_outbox,
                clicks,
            ]
        )

    async def scheduled_shares() -> None:
        while True:
            await handlers.fire_due_shares(services)
            await asyncio.sleep(settings.schedule_interval_seconds)

    async def purge() -> None:
        while True:
            await handlers.purge(services)
            await asyncio.sleep(60)

    return [outbox_relay, scheduled_shares, purge]


DEFINITION = ServiceDefinition(
    name="share",
    settings_class=ShareSettings,
    setup=setup,
    publishes=[POST_SHARED, ENGAGEMENT_OBSERVED, ADVOCATE_ENROLLED, ADVOCATE_OPTED_OUT],
    consumes=[
        CONTENT_PUBLISHED,
        CONTENT_UPDATED,
        CONTENT_RETIRED,
        GUIDELINES_PUBLISHED,
        GUIDELINES_ACKNOWLEDGED,
        ENGAGEMENT_OBSERVED,
    ],
    routers=lambda: [*api.ROUTERS, redirect.router],
    subscribe=subscribe,
    loops=loops,
    description="Sharing: advocates, one-tap shares, tracked links and engagement capture.",
)
