"""Wires the people directory to real adapters, for both roles."""

from __future__ import annotations

from fastapi import APIRouter

from chassis.outbox import run_relay
from chassis.process import Loop, Runtime, ServiceDefinition, periodic
from contracts.topics import PERSON_DEACTIVATED, PERSON_DELETED, PERSON_UPSERTED
from people.adapters.mongo import MongoDirectory
from people.config import PeopleSettings
from people.entrypoints import me, scim
from people.service_layer import directory


async def setup(runtime: Runtime) -> scim.Components:
    settings = runtime.settings
    assert isinstance(settings, PeopleSettings)
    repo = MongoDirectory(
        runtime.db,
        runtime.publisher,
        settings.outbox_lease_seconds,
        settings.group_sync_lease_seconds,
    )
    await repo.ensure_indexes()
    services = directory.Services(
        directory=repo,
        employee_id_sources=settings.employee_id_sources,
        max_results=settings.scim_max_results,
    )
    return scim.Components.with_tokens(services, settings.tenant_tokens)


def routers() -> list[APIRouter]:
    """SCIM's, for the tenants' identity providers, and the person's own."""
    return [*scim.routers(), me.router]


def loops(runtime: Runtime) -> list[Loop]:
    settings = runtime.settings
    assert isinstance(settings, PeopleSettings)
    components: scim.Components = runtime.services
    repo = components.services.directory
    assert isinstance(repo, MongoDirectory)

    async def outbox_relay() -> None:
        await run_relay([repo.outbox], interval=0.5)

    async def group_members() -> None:
        # A group change whose members the api did not all bring up to date (it died).
        await directory.settle_pending_groups(components.services)

    return [outbox_relay, periodic(settings.group_sync_seconds, group_members)]


DEFINITION = ServiceDefinition(
    name="people",
    settings_class=PeopleSettings,
    setup=setup,
    publishes=[PERSON_UPSERTED, PERSON_DEACTIVATED, PERSON_DELETED],
    routers=routers,
    loops=loops,
    configure=scim.configure,
    description="The people directory: SCIM 2.0 for the tenants' identity providers.",
)
