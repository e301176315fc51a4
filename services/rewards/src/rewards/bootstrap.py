"""Wires rewards' handlers to real adapters, for both roles."""

from __future__ import annotations

from functools import partial

from chassis.consumer import subscribe_batch
from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition
from contracts.topics import POINTS_AWARDED, POST_SHARED
from rewards.adapters.mongo import RewardsRepository
from rewards.config import RewardsSettings
from rewards.entrypoints import api
from rewards.service_layer import handlers


async def setup(runtime: Runtime) -> handlers.Services:
    repo = RewardsRepository(runtime.db)
    await repo.ensure_indexes()
    return handlers.Services(
        repo=repo,
        outbox=Outbox(repo.ledger, runtime.publisher, runtime.settings.outbox_lease_seconds),
    )


def subscribe(runtime: Runtime) -> None:
    subscribe_batch(
        runtime.broker,
        topics=[POST_SHARED],
        group_id=runtime.settings.consumer_group,
        handler=partial(handlers.on_activity, runtime.services),
        publisher=runtime.publisher,
    )


def loops(runtime: Runtime) -> list[Loop]:
    services: handlers.Services = runtime.services

    async def outbox_relay() -> None:
        await run_relay([services.outbox], interval=0.2)

    return [outbox_relay]


DEFINITION = ServiceDefinition(
    name="rewards",
    settings_class=RewardsSettings,
    setup=setup,
    publishes=[POINTS_AWARDED],
    consumes=[POST_SHARED],
    routers=lambda: [api.router],
    subscribe=subscribe,
    loops=loops,
    description="Gamification: transparent points, badges, leaderboards and rewards.",
)
