"""HR's directory as each service keeps it, and the caller's profile taken from it.

The people service publishes every change of a person (PersonUpserted, PersonDeactivated,
PersonDeleted) with a `version` that grows per person. A service that opts in
(`ServiceDefinition.directory`) keeps its own copy in its `directory` collection, one
document per person under `contracts.erasure.person_key` (a hash of tenant and employee id:
the projection never stores the id), and applies an event only when its version is newer
than the stored one; the conditional write makes that hold for any order and any
redelivery. A deletion leaves a tombstone (its version and nothing else of the person), so
an upsert of an older version arriving late does not bring the person back.

The overlay: with a directory, `chassis.auth.current_principal` takes the caller's groups,
location and languages from it when the person is in it (the token's otherwise, so a
tenant without SCIM works as before), and refuses a deactivated or deleted person with a
403. Reads go through a cache of a few seconds in the process, and a tenant without a single
person in the directory (one that does not provision people by SCIM) costs no read per person:
whether the tenant has anyone is itself cached.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from cachetools import TTLCache
from fastapi import Request
from pydantic import BaseModel, Field
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import CollectionInvalid, DuplicateKeyError, OperationFailure

from chassis.auth import Principal
from chassis.consumer import Consumed, subscribe_batch
from chassis.errors import Problem
from contracts import PersonDeactivated, PersonDeleted, PersonUpserted
from contracts.erasure import person_key
from contracts.topics import PERSON_DEACTIVATED, PERSON_DELETED, PERSON_UPSERTED

if TYPE_CHECKING:
    from chassis.process import Runtime

PERSON_TOPICS = (PERSON_UPSERTED, PERSON_DEACTIVATED, PERSON_DELETED)
COLLECTION = "directory"

# How long a process trusts what it read of a person. A move to another group or a
# deactivation reaches every api process within this long; within it, a person's requests
# (a page fans out into several api calls) cost one database read, not one each. HR's own
# changes take minutes to reach the directory (SCIM provisioning runs on a schedule), so
# seconds more go unnoticed, while a read per request would double the cost of the feed.
CACHE_SECONDS = 5.0
# People remembered per process at most (least recently read out first).
CACHE_ENTRIES = 100_000
# Tenants whose presence in the directory is remembered at most.
TENANT_ENTRIES = 10_000

_UNREAD = object()

PersonEvent = PersonUpserted | PersonDeactivated | PersonDeleted


class Status(StrEnum):
    ACTIVE = "active"
    DEACTIVATED = "deactivated"
    DELETED = "deleted"


class Outcome(StrEnum):
    """What applying an event did: a newer version is applied; the stored version again is a
    redelivery (its effects may run again, they are idempotent); an older one is stale."""

    APPLIED = "applied"
    REPEATED = "repeated"
    STALE = "stale"

    @property
    def current(self) -> bool:
        """Whether the event is the person's latest known state."""
        return self is not Outcome.STALE


@dataclass(frozen=True)
class Person:
    """What the directory says of a person, as far as a request needs it."""

    version: int
    status: Status
    groups: frozenset[str] = frozenset()
    location: str | None = None
    languages: tuple[str, ...] = ()


class DirectoryEntry(BaseModel):
    """What a service's copy of the directory holds of a person, for their own download."""

    status: Status = Field(description="active, deactivated or deleted, as HR last said")
    version: int = Field(description="the version of the person's last change applied here")
    groups: list[str] = Field(default_factory=list)
    location: str | None = None
    languages: list[str] = Field(default_factory=list)
    changed_at: datetime | None = Field(None, description="when HR changed the person last")


def doc_id(tenant: str, employee_id: str) -> str:
    # Hashed, so that a tombstone names nobody once HR deleted the person.
    return person_key(tenant, employee_id)


def change_of(event: PersonEvent) -> tuple[dict[str, Any], list[str]]:
    """The fields an event sets and those it removes (pure)."""
    data = event.data
    base = {"tenant": event.tenantid, "version": data.version}
    if isinstance(event, PersonUpserted):
        upserted = event.data
        return {
            **base,
            "status": Status.ACTIVE if upserted.active else Status.DEACTIVATED,
            "groups": sorted(set(upserted.groups)),
            "location": upserted.location,
            "languages": list(upserted.languages),
            "changed_at": upserted.updated_at,
        }, []
    if isinstance(event, PersonDeactivated):
        # The profile stays: a reactivation comes as an upsert with all of it anyway.
        return {**base, "status": Status.DEACTIVATED, "changed_at": event.data.deactivated_at}, []
    # A tombstone: the version that deleted the person, nothing else of them.
    return (
        {**base, "status": Status.DELETED, "changed_at": event.data.deleted_at},
        ["groups", "location", "languages"],
    )


def outcome_of(stored_version: int | None, version: int) -> Outcome:
    """The ordering rule: only a newer version changes the person (pure)."""
    if stored_version is None or version > stored_version:
        return Outcome.APPLIED
    return Outcome.REPEATED if version == stored_version else Outcome.STALE


def person_of(doc: dict[str, Any]) -> Person:
    return Person(
        version=int(doc["version"]),
        status=Status(doc.get("status", Status.ACTIVE)),
        groups=frozenset(doc.get("groups") or ()),
        location=doc.get("location") or None,
        languages=tuple(doc.get("languages") or ()),
    )


class DirectoryStore(Protocol):
    """Where the projection lives: a MongoDB collection, or a fake in unit tests."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def has_people(self, tenant: str) -> bool:
        """Whether the directory holds anyone of the tenant (a tombstone counts)."""
        ...

    async def write_if_older(
        self, key: str, version: int, fields: dict[str, Any], remove: Sequence[str]
    ) -> bool:
        """Write `fields` (and remove `remove`) unless the stored version is `version` or
        newer; whether it wrote."""
        ...


class MongoDirectoryStore:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.db = db
        self.collection = db[COLLECTION]

    async def ensure_collection(self) -> None:
        """Create the collection at startup, as the services create their indexes, so that
        its creation (a schema change on the test server's SQLite) never runs while the
        api's requests read the database."""
        if COLLECTION not in await self.db.list_collection_names():
            try:
                await self.db.create_collection(COLLECTION)
            except (CollectionInvalid, OperationFailure):
                pass  # the other role created it meanwhile
        await self.collection.create_index("tenant")

    async def has_people(self, tenant: str) -> bool:
        return await self.collection.find_one({"tenant": tenant}, {"_id": 1}) is not None

    async def get(self, key: str) -> dict[str, Any] | None:
        return await self.collection.find_one({"_id": key})

    async def write_if_older(
        self, key: str, version: int, fields: dict[str, Any], remove: Sequence[str]
    ) -> bool:
        update: dict[str, Any] = {"$set": fields}
        if remove:
            update["$unset"] = {name: "" for name in remove}
        try:
            # No document, or an older one: written. A newer or equal one does not match,
            # and the upsert then meets its `_id`: a duplicate key, nothing written.
            result = await self.collection.update_one(
                {"_id": key, "version": {"$lt": version}}, update, upsert=True
            )
        except DuplicateKeyError:
            return False
        return result.matched_count > 0 or result.upserted_id is not None


class Directory:
    """The projection of the directory, and the overlay of the caller's profile."""

    def __init__(
        self,
        store: DirectoryStore,
        *,
        cache_seconds: float = CACHE_SECONDS,
        cache_entries: int = CACHE_ENTRIES,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.store = store
        # key -> what was read; None is cached too: a caller in no directory would
        # otherwise cost every request a read.
        self._cache: TTLCache[str, Person | None] = TTLCache(
            maxsize=cache_entries, ttl=cache_seconds, timer=clock
        )
        # tenant -> whether the directory holds anyone of it.
        self._tenants: TTLCache[str, bool] = TTLCache(
            maxsize=TENANT_ENTRIES, ttl=cache_seconds, timer=clock
        )

    # -- the projection ------------------------------------------------------------------

    async def apply(self, event: PersonEvent) -> Outcome:
        """Apply one person event; idempotent, and an older version changes nothing."""
        key = doc_id(event.tenantid, event.data.employee_id)
        fields, remove = change_of(event)
        self._cache.pop(key, None)
        self._tenants.pop(event.tenantid, None)
        if await self.store.write_if_older(key, event.data.version, fields, remove):
            return Outcome.APPLIED
        stored = await self.store.get(key)
        outcome = outcome_of(int(stored["version"]) if stored else None, event.data.version)
        if outcome is Outcome.APPLIED:
            # Not written, yet nothing newer is stored: a concurrent writer (a rebalance);
            # fail the batch so it is delivered again.
            raise RuntimeError(f"directory entry {key!r} changed while being written")
        return outcome

    async def apply_batch(self, batch: Sequence[Consumed[Any]]) -> list[Consumed[Any]]:
        """Apply a batch in order; the events that are their person's latest state."""
        current = []
        for item in batch:
            if isinstance(item.event, PersonUpserted | PersonDeactivated | PersonDeleted):
                if (await self.apply(item.event)).current:
                    current.append(item)
        return current

    # -- reads -----------------------------------------------------------------------------

    async def person(self, tenant: str, employee_id: str) -> Person | None:
        key = doc_id(tenant, employee_id)
        cached = self._cache.get(key, _UNREAD)
        if cached is not _UNREAD:
            return cached  # type: ignore[return-value]
        if not await self._has_people(tenant):
            return None
        doc = await self.store.get(key)
        found = person_of(doc) if doc is not None else None
        self._cache[key] = found
        return found

    async def entry(self, tenant: str, employee_id: str) -> DirectoryEntry | None:
        """What the copy holds of a person, read anew (never from the cache)."""
        doc = await self.store.get(doc_id(tenant, employee_id))
        return DirectoryEntry.model_validate(doc) if doc is not None else None

    async def _has_people(self, tenant: str) -> bool:
        known = self._tenants.get(tenant)
        if known is None:
            known = self._tenants[tenant] = await self.store.has_people(tenant)
        return known

    async def overlay(self, principal: Principal) -> Principal:
        """The caller with the directory's groups, location and languages; a 403 problem
        for a person the directory deactivated or deleted."""
        person = await self.person(principal.tenant, principal.employee_id)
        if person is None:
            return principal
        if person.status is not Status.ACTIVE:
            raise Problem(
                403,
                "Deactivated",
                f"the directory {person.status.value} this person: they cannot use Chorus",
            )
        return replace(
            principal,
            groups=person.groups,
            location=person.location,
            languages=person.languages,
        )


async def entry_of(request: Request, principal: Principal) -> DirectoryEntry | None:
    """What the service's copy of the directory holds of the caller, for their download;
    None when the service keeps no copy or it holds nothing of them."""
    directory: Directory | None = getattr(request.app.state, "directory", None)
    if directory is None:
        return None
    return await directory.entry(principal.tenant, principal.employee_id)


async def mongo_directory(db: AsyncDatabase[dict[str, Any]]) -> Directory:
    store = MongoDirectoryStore(db)
    await store.ensure_collection()
    return Directory(store)


AfterApplied = Callable[[list[Consumed[Any]]], Awaitable[None]]


def subscribe(runtime: Runtime, then: AfterApplied | None = None) -> None:
    """Consume the person topics into the service's directory, in its own consumer group.

    `then` gets the events that are their person's latest state once they are applied,
    for a service's own effects (an opt-out); it must be idempotent: after a failure the
    batch is delivered again, and the events are then `REPEATED`, still current."""
    directory = runtime.directory
    if directory is None:
        raise RuntimeError("the service keeps no directory (ServiceDefinition.directory)")

    async def on_people(batch: list[Consumed[Any]]) -> None:
        current = await directory.apply_batch(batch)
        if then is not None and current:
            await then(current)

    subscribe_batch(
        runtime.broker,
        topics=list(PERSON_TOPICS),
        group_id=runtime.settings.consumer_group,
        handler=on_people,
        publisher=runtime.publisher,
    )
