"""Wires share's handlers to real adapters, for both roles."""

from __future__ import annotations

from functools import partial

from chassis import directory
from chassis.bulk import BatchPublisher, BulkProducer
from chassis.consumer import subscribe_batch
from chassis.erasure import Confirmations
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition, periodic
from chassis.telemetry import traced_batches
from contracts.topics import (
    ADVOCATE_ENROLLED,
    ADVOCATE_OPTED_OUT,
    AUDIENCE_MEASURED,
    BUDDY_FEEDBACK_GIVEN,
    CONTENT_PUBLISHED,
    CONTENT_RETIRED,
    CONTENT_UPDATED,
    ENGAGEMENT_OBSERVED,
    ERASURE_COMPLETED,
    ERASURE_REQUESTED,
    FOLLOWERS_MEASURED,
    GUIDELINES_ACKNOWLEDGED,
    GUIDELINES_PUBLISHED,
    LINK_CLICKED,
    POST_SHARED,
)
from share.adapters.buddies import BuddyRepository
from share.adapters.clicks import ClickRecorder, LinkCache
from share.adapters.mongo import ShareRepository
from share.adapters.networks import LinkedInPoster, TokenVault
from share.adapters.visits import Visits
from share.config import ShareSettings
from share.domain.clicks import DailySalts
from share.entrypoints import api, redirect
from share.entrypoints import buddies as buddies_api
from share.entrypoints.links_server import links_server
from share.service_layer import buddies, handlers


async def setup(runtime: Runtime) -> handlers.Services:
    repo = ShareRepository(runtime.db)
    await repo.ensure_indexes()
    buddy_repo = BuddyRepository(runtime.db)
    await buddy_repo.ensure_indexes()
    settings = runtime.settings
    assert isinstance(settings, ShareSettings)
    lease = settings.outbox_lease_seconds
    confirmations = Confirmations(runtime.db, runtime.publisher, "share", lease)
    await confirmations.ensure_indexes()
    clicks: ClickRecorder | None = None
    if runtime.role == "api":
        producer = BulkProducer(
            settings.kafka_bootstrap_servers,
            client_id="share-api-clicks",
            # Store first (0): only the spool sends, and it waits for the outcome anyway.
            ack_timeout=settings.click_ack_timeout_seconds or 1.0,
            # A send outlives its click's spooling by at most this; the spool waits for it,
            # so it must end well inside the lease that hands the spool over to the relay.
            request_timeout=min(30.0, max(5.0, settings.click_lease_seconds / 4)),
            security=runtime.kafka_security,
        )
        await producer.start()
        runtime.on_close.append(producer.stop)
        clicks = ClickRecorder(
            repo,
            producer,
            settings.click_lease_seconds,
            kafka_first=settings.click_ack_timeout_seconds > 0,
        )
    visits: Visits | None = None
    decided: BatchPublisher | None = None
    if runtime.role == "worker":
        # Each click's EngagementObserved, once its uniqueness is decided (up to 500 a batch).
        decided = BatchPublisher(
            settings.kafka_bootstrap_servers,
            client_id="share-worker-clicks",
            max_batch_size=1024 * 1024,
            security=runtime.kafka_security,
        )
        await decided.start()
        runtime.on_close.append(decided.stop)
        visits = Visits(repo)
    services = handlers.Services(
        repo=repo,
        shares_outbox=Outbox(repo.shares, runtime.publisher, lease),
        advocates_outbox=Outbox(repo.advocates, runtime.publisher, lease),
        engagements_outbox=Outbox(repo.engagements, runtime.publisher, lease),
        followers_outbox=Outbox(repo.followers, runtime.publisher, lease),
        buddies=buddies.Buddies(
            buddy_repo,
            drafts_outbox=Outbox(buddy_repo.drafts, runtime.publisher, lease),
            cheers_outbox=Outbox(buddy_repo.cheers, runtime.publisher, lease),
        ),
        clicks=clicks,
        links_cache=LinkCache(repo),
        salts=DailySalts(settings.link_secret.encode()),
        vault=TokenVault(repo, settings.token_key),
        public_base_url=settings.public_base_url,
        default_daily_cap=settings.default_daily_cap,
        link_secret=settings.link_secret.encode(),
        webhook_secret=settings.webhook_secret.encode(),
        posters={"linkedin": LinkedInPoster(settings.linkedin_api_url, settings.linkedin_version)},
        confirmations=confirmations,
        visits=visits,
        publish_many=decided.publish_many if decided is not None else None,
    )
    if runtime.role == "api":
        links = links_server(services, settings)
        await links.start()
        runtime.on_close.append(links.stop)
    return services


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
        handler=traced_batches(
            partial(handlers.on_content_events, services), group, runtime.tracer_provider
        ),
        publisher=runtime.publisher,
        progress=runtime.db,
    )
    # A group of its own: the click counters are hot, content copies are not.
    subscribe_batch(
        runtime.broker,
        topics=[ENGAGEMENT_OBSERVED],
        group_id=f"{group}-engagement-counters",
        handler=traced_batches(
            partial(handlers.on_engagements, services),
            f"{group}-engagement-counters",
            runtime.tracer_provider,
        ),
        publisher=runtime.publisher,
        progress=runtime.db,
    )
    # The redirect's clicks, each decided unique or not: off the redirect's path, and in a
    # group of its own, so that a burst of clicks waits behind nothing else.
    subscribe_batch(
        runtime.broker,
        topics=[LINK_CLICKED],
        group_id=f"{group}-clicks",
        handler=traced_batches(
            partial(handlers.on_link_clicks, services), f"{group}-clicks", runtime.tracer_provider
        ),
        publisher=runtime.publisher,
        progress=runtime.db,
    )
    # Deactivated people leave the program, deleted ones are erased.
    directory.subscribe(runtime, then=partial(handlers.on_people, services))


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
                *([services.followers_outbox] if services.followers_outbox else []),
                *(
                    [services.buddies.drafts_outbox, services.buddies.cheers_outbox]
                    if services.buddies
                    else []
                ),
                clicks,
                *([services.confirmations.outbox] if services.confirmations else []),
            ]
        )

    async def scheduled_shares() -> None:
        await handlers.fire_due_shares(services)

    async def purge() -> None:
        await handlers.purge(services)

    async def forget_engagements() -> None:
        await handlers.forget_engagements(services)

    return [
        outbox_relay,
        periodic(settings.schedule_interval_seconds, scheduled_shares),
        periodic(60, purge),
        periodic(settings.retention_interval_seconds, forget_engagements),
    ]


DEFINITION = ServiceDefinition(
    name="share",
    settings_class=ShareSettings,
    setup=setup,
    publishes=[
        POST_SHARED,
        LINK_CLICKED,
        ENGAGEMENT_OBSERVED,
        ADVOCATE_ENROLLED,
        ADVOCATE_OPTED_OUT,
        AUDIENCE_MEASURED,
        FOLLOWERS_MEASURED,
        BUDDY_FEEDBACK_GIVEN,
        ERASURE_REQUESTED,
        ERASURE_COMPLETED,
    ],
    consumes=[
        CONTENT_PUBLISHED,
        CONTENT_UPDATED,
        CONTENT_RETIRED,
        GUIDELINES_PUBLISHED,
        GUIDELINES_ACKNOWLEDGED,
        LINK_CLICKED,
        ENGAGEMENT_OBSERVED,
        *directory.PERSON_TOPICS,
    ],
    directory=True,
    routers=lambda: [*api.ROUTERS, buddies_api.router],
    api_middleware=[redirect.ShortLinks],
    subscribe=subscribe,
    loops=loops,
    description="Sharing: advocates, one-tap shares, tracked links and engagement capture.",
)
