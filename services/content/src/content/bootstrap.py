"""Wires content's handlers to real adapters, for both roles."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from functools import partial
from typing import Any

import anyio.to_thread
import httpx
from fastapi import FastAPI

from chassis import directory
from chassis.consumer import subscribe_batch
from chassis.erasure import Confirmations
from chassis.outbox import run_relay
from chassis.process import Loop, Role, Runtime, ServiceDefinition, periodic
from chassis.telemetry import traced_batches
from content.adapters.feed_view import MongoFeedReadModel, retention_cutoff
from content.adapters.mongo import ContentRepository
from content.adapters.preview import LinkPreviewer
from content.config import ContentSettings
from content.entrypoints import api, coaching
from content.service_layer import erasure, handlers
from contracts.topics import (
    ADVOCATE_OPTED_OUT,
    CONTENT_PUBLISHED,
    CONTENT_RETIRED,
    CONTENT_UPDATED,
    ERASURE_COMPLETED,
    GUIDELINES_ACKNOWLEDGED,
    GUIDELINES_PUBLISHED,
    ONBOARDING_STEP_COMPLETED,
    POST_SHARED,
    WIN_TOLD,
)

log = logging.getLogger(__name__)


async def setup(runtime: Runtime) -> handlers.Services:
    settings = runtime.settings
    assert isinstance(settings, ContentSettings)
    repo = ContentRepository(runtime.db, runtime.publisher, settings.outbox_lease_seconds)
    await repo.ensure_indexes()
    confirmations = Confirmations(
        runtime.db, runtime.publisher, "content", settings.outbox_lease_seconds
    )
    await confirmations.ensure_indexes()
    feed = MongoFeedReadModel(
        repo,
        refresh_seconds=settings.feed_refresh_seconds,
        reload_seconds=settings.feed_reload_seconds,
        grace_seconds=settings.feed_gap_grace_seconds,
    )
    if runtime.role == "api":
        # Loaded before the first request, so no request after a start waits for a load.
        await feed.warm()
        # The token check runs in the thread pool; its first use imports anyio's backend
        # (tens of milliseconds), which would otherwise fall on the first request.
        await anyio.to_thread.run_sync(lambda: None)
        refresher = asyncio.create_task(feed.run(), name="feed-refresh")

        async def stop_feed() -> None:
            refresher.cancel()
            await asyncio.gather(refresher, return_exceptions=True)
            await feed.close()

        runtime.on_close.append(stop_feed)
    return handlers.Services(
        repo=repo,
        previewer=LinkPreviewer(
            timeout=settings.preview_timeout_seconds,
            max_bytes=settings.preview_max_bytes,
            max_redirects=settings.preview_max_redirects,
            allowed_hosts=settings.preview_allowed,
        ),
        feed=feed,
        confirmations=confirmations,
    )


def configure(app: FastAPI, role: Role) -> None:
    if role == "api":
        app.router.lifespan_context = _first_request_in_startup(app.router.lifespan_context)


def _first_request_in_startup(started: Any) -> Any:
    """FastAPI builds a route's dependencies and response model on the first request it
    routes there (tens of milliseconds). One unauthenticated feed request at the end of
    startup (a 401) pays that before the process counts as started."""

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with started(app) as state:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://warm-up") as http:
                await http.get("/api/v1/feed")
            yield state

    return lifespan


def subscribe(runtime: Runtime) -> None:
    subscribe_batch(
        runtime.broker,
        topics=[POST_SHARED],
        group_id=runtime.settings.consumer_group,
        handler=traced_batches(
            partial(handlers.on_post_shared, runtime.services),
            runtime.settings.consumer_group,
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
    )
    subscribe_batch(
        runtime.broker,
        topics=[ADVOCATE_OPTED_OUT],
        group_id=runtime.settings.consumer_group,
        handler=traced_batches(
            partial(erasure.on_opted_out, runtime.services),
            runtime.settings.consumer_group,
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
    )
    subscribe_batch(
        runtime.broker,
        topics=[WIN_TOLD],
        group_id=runtime.settings.consumer_group,
        handler=traced_batches(
            partial(handlers.on_wins_told, runtime.services),
            runtime.settings.consumer_group,
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
    )
    # Who sees which item follows the directory's groups, location and languages.
    directory.subscribe(runtime)


def loops(runtime: Runtime) -> list[Loop]:
    services: handlers.Services = runtime.services
    settings = runtime.settings
    assert isinstance(settings, ContentSettings)

    async def outbox_relay() -> None:
        confirmations = [services.confirmations.outbox] if services.confirmations else []
        await run_relay([*services.repo.outboxes.values(), *confirmations])

    async def scheduler() -> None:
        # Publishing and expiry happen on time with nobody asking: this loop is the clock.
        moved = await handlers.run_schedule(services)
        if moved:
            log.info("schedule applied", extra={"items": moved})

    async def feed_log_purge() -> None:
        # No TTL indexes in our MongoDB subset: the feed's change log is purged here.
        assert isinstance(services.feed, MongoFeedReadModel)
        await services.feed.purge(retention_cutoff(settings.feed_log_retention_seconds))

    return [
        outbox_relay,
        periodic(settings.schedule_interval_seconds, scheduler),
        periodic(60, feed_log_purge),
    ]


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
        ONBOARDING_STEP_COMPLETED,
        ERASURE_COMPLETED,
    ],
    consumes=[POST_SHARED, WIN_TOLD, ADVOCATE_OPTED_OUT, *directory.PERSON_TOPICS],
    directory=True,
    routers=lambda: [*api.routers, *coaching.routers],
    subscribe=subscribe,
    loops=loops,
    configure=configure,
    description="Content hub: curated and employee-suggested content worth sharing.",
)
