"""Wires content's handlers to real adapters, for both roles."""

from __future__ import annotations

from chassis.outbox import Outbox, run_relay
from chassis.process import Loop, Runtime, ServiceDefinition
from content.adapters.mongo import ContentRepository
from content.config import ContentSettings
from content.entrypoints import api
from content.service_layer.handlers import Services
from contracts.topics import CONTENT_PUBLISHED


async def setup(runtime: Runtime) -> Services:
    repo = ContentRepository(runtime.db)
    await repo.ensure_indexes()
    return Services(
        repo=repo,
        outbox=Outbox(repo.items, runtime.publisher, runtime.settings.outbox_lease_seconds),
    )


def loops(runtime: Runtime) -> list[Loop]:
    services: Services = runtime.services

    async def outbox_relay() -> None:
        await run_relay([services.outbox])

    return [outbox_relay]


DEFINITION = ServiceDefinition(
    name="content",
    settings_class=ContentSettings,
    setup=setup,
    publishes=[CONTENT_PUBLISHED],
    routers=lambda: [api.router],
    loops=loops,
    description="Content hub: curated and employee-suggested content worth sharing.",
)
