"""The directory's use cases: people and groups as SCIM resources, and the events they cause.

Every change of a person is one write of their document, carrying its events (outbox), with
the person's version one higher, in a unit of work; the write is conditional on the version
read, so of two concurrent changes one is retried on the newer state (or refused with 412
when the client named the version it expected). A group change writes the group and the
members whose groups may change (`sync`); each of those people is then brought up to date
by a write of their own. If the api dies in between, the worker finishes it
(`settle_pending_groups`).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from scim2_models import Context, Group

from chassis.domain_errors import Conflict as ChangedMeanwhile
from chassis.uow import UnitOfWork, Write
from contracts import AnyEvent
from contracts.events import (
    PersonDeactivated,
    PersonDeactivatedData,
    PersonDeleted,
    PersonDeletedData,
    PersonUpserted,
    PersonUpsertedData,
)
from people.domain import scim
from people.domain.scim import EmployeeIdSource, Person, ScimError

RETRIES = 5


@dataclass(frozen=True)
class UserRecord:
    tenant: str
    id: str
    employee_id: str
    resource: dict[str, Any]
    groups: list[str]
    version: int
    created: datetime
    last_modified: datetime
    deleted: bool = False

    @property
    def person(self) -> Person:
        return Person.model_validate(self.resource)


@dataclass(frozen=True)
class GroupRecord:
    tenant: str
    id: str
    resource: dict[str, Any]
    members: list[str]
    version: int
    created: datetime
    last_modified: datetime
    deleted: bool = False
    sync: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        return str(self.resource.get("displayName", ""))


class Conflict(Exception):
    """A unique attribute (userName, a group's displayName) is taken in the tenant."""


class Directory(Protocol):
    async def user(self, tenant: str, user_id: str) -> UserRecord | None: ...
    async def user_by_employee(self, tenant: str, employee_id: str) -> UserRecord | None: ...
    async def users_by_ids(self, tenant: str, ids: Sequence[str]) -> list[UserRecord]: ...
    async def find_users(self, tenant: str, equal: Mapping[str, Any]) -> list[UserRecord]: ...
    def user_created(self, record: UserRecord) -> Write:
        """The write of a new person; it does not land (`chassis` Conflict) when their
        userName or employee id is taken."""
        ...

    def user_saved(self, record: UserRecord, expected_version: int) -> Write:
        """The write of a person's new state; it does not land (`chassis` Conflict) when
        they are no longer at `expected_version`, or their new userName is taken."""
        ...

    async def group(self, tenant: str, group_id: str) -> GroupRecord | None: ...
    async def find_groups(self, tenant: str, equal: Mapping[str, Any]) -> list[GroupRecord]: ...
    async def group_names_of(self, tenant: str, user_id: str) -> list[str]: ...
    async def groups_of(self, tenant: str, user_id: str) -> list[GroupRecord]: ...
    async def groups_page(
        self, tenant: str, user_id: str, after: str | None, limit: int
    ) -> list[GroupRecord]:
        """The User's groups by id, the first `limit` after the id `after`."""
        ...

    async def remove_member(self, tenant: str, user_id: str, when: datetime) -> None:
        """Take the User out of every group of the tenant."""
        ...

    async def insert_group(self, record: GroupRecord) -> None: ...
    async def write_group(self, record: GroupRecord, expected_version: int) -> bool: ...
    async def clear_sync(self, record: GroupRecord) -> None: ...
    async def claim_group_to_sync(self) -> GroupRecord | None: ...


@dataclass
class Services:
    directory: Directory
    employee_id_sources: Mapping[str, EmployeeIdSource] = field(default_factory=dict)
    max_results: int = 200
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    # A unit of work per change of a person (tests give one they can look into).
    uow: Callable[[], UnitOfWork] = UnitOfWork

    def source(self, tenant: str) -> EmployeeIdSource:
        return self.employee_id_sources.get(tenant, "userName")


def _check_version(version: int, if_match: str | None) -> None:
    """RFC 7644 §3.14 / RFC 7232: a request naming an older ETag is refused."""
    if if_match is None or if_match.strip() == "*":
        return
    tags = {tag.strip() for tag in if_match.split(",")}
    if etag(version) not in tags and f'"{version}"' not in tags:
        raise ScimError(412, "the resource has changed since that version", "invalidVers")


def etag(version: int) -> str:
    return f'W/"{version}"'


# -- users -------------------------------------------------------------------------------


async def _manager_id(services: Services, tenant: str, person: Person) -> str | None:
    ref = scim.manager_ref(person)
    if ref is None:
        return None
    manager = await services.directory.user(tenant, ref)
    return manager.employee_id if manager is not None else None


async def _facts(services: Services, record: UserRecord) -> dict[str, Any] | None:
    if record.deleted:
        return None
    person = record.person
    manager = await _manager_id(services, record.tenant, person)
    return scim.person_facts(person, record.employee_id, record.groups, manager)


def person_events(
    record: UserRecord, before: dict[str, Any] | None, after: dict[str, Any] | None
) -> list[AnyEvent]:
    """The events that tell the others how the person changed (none if only what no event
    carries changed, such as an email address)."""
    tenant, when, version = record.tenant, record.last_modified, record.version
    employee = record.employee_id
    if after is None:
        return [
            PersonDeleted.create(
                tenant_id=tenant,
                subject=employee,
                time=when,
                data=PersonDeletedData(employee_id=employee, version=version, deleted_at=when),
            )
        ]
    events: list[AnyEvent] = []
    deactivated = before is not None and before["active"] and not after["active"]
    if deactivated:
        events.append(
            PersonDeactivated.create(
                tenant_id=tenant,
                subject=employee,
                time=when,
                data=PersonDeactivatedData(
                    employee_id=employee, version=version, deactivated_at=when
                ),
            )
        )
    others_changed = before is None or _without_active(before) != _without_active(after)
    # A deactivation alone says so in its own event; anything else that changed (a
    # reactivation too) is a new PersonUpserted.
    if others_changed or (before != after and not deactivated):
        events.append(
            PersonUpserted.create(
                tenant_id=tenant,
                subject=employee,
                time=when,
                data=PersonUpsertedData(**after, version=version, updated_at=when),
            )
        )
    return events


def _without_active(facts: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in facts.items() if k != "active"}


def _resource_of(person: Person) -> dict[str, Any]:
    return person.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)


async def create_user(services: Services, tenant: str, body: object) -> UserRecord:
    person = scim.parse_user(body)
    employee_id = scim.employee_id_of(person, services.source(tenant))
    now = services.clock()
    directory = services.directory
    if await directory.find_users(tenant, {"username": person.user_name}):
        raise ScimError(409, "userName is taken in this directory", "uniqueness")
    previous = await directory.user_by_employee(tenant, employee_id)
    if previous is not None and not previous.deleted:
        raise ScimError(409, "a person with this employee id exists", "uniqueness")
    record = UserRecord(
        tenant=tenant,
        id=uuid.uuid4().hex,
        employee_id=employee_id,
        resource=_resource_of(person),
        groups=[],
        # A person deleted and created again goes on from their last version.
        version=previous.version + 1 if previous is not None else 1,
        created=now,
        last_modified=now,
    )
    events = person_events(record, None, await _facts(services, record))
    write = (
        directory.user_created(record)
        if previous is None
        else directory.user_saved(record, previous.version)
    )
    try:
        await _save(services, write, events)
    except ChangedMeanwhile:
        if previous is not None and await _exists(services, tenant, employee_id):
            raise ScimError(
                409, "a person with this employee id was just created", "uniqueness"
            ) from None
        raise ScimError(409, "userName is taken in this directory", "uniqueness") from None
    return record


async def _exists(services: Services, tenant: str, employee_id: str) -> bool:
    found = await services.directory.user_by_employee(tenant, employee_id)
    return found is not None and not found.deleted


async def _save(services: Services, write: Write, events: Sequence[AnyEvent]) -> None:
    """Write a person's change with its events, then publish them."""
    async with services.uow() as uow:
        uow.add(write, events)


async def _saved(services: Services, write: Write, events: Sequence[AnyEvent]) -> bool:
    """`_save`; False if the person changed meanwhile (or the userName they take was just
    taken): the caller reads them again and decides anew."""
    try:
        await _save(services, write, events)
    except ChangedMeanwhile:
        return False
    return True


async def get_user(services: Services, tenant: str, user_id: str) -> UserRecord:
    record = await services.directory.user(tenant, user_id)
    if record is None:
        raise ScimError(404, f"no User {user_id}")
    return record


async def replace_user(
    services: Services, tenant: str, user_id: str, body: object, if_match: str | None
) -> UserRecord:
    person = scim.parse_user(body)
    return await _change_user(services, tenant, user_id, if_match, lambda _: person)


async def patch_user(
    services: Services, tenant: str, user_id: str, body: object, if_match: str | None
) -> UserRecord:
    def apply(current: Person) -> Person:
        current.id = user_id
        return scim.patch_user(current, body)

    return await _change_user(services, tenant, user_id, if_match, apply)


async def _change_user(
    services: Services,
    tenant: str,
    user_id: str,
    if_match: str | None,
    change: Callable[[Person], Person],
) -> UserRecord:
    directory = services.directory
    for _ in range(RETRIES):
        current = await get_user(services, tenant, user_id)
        _check_version(current.version, if_match)
        person = change(current.person)
        person.id = None
        if scim.fold(person.user_name or "") != scim.fold(current.person.user_name or ""):
            others = await directory.find_users(tenant, {"username": person.user_name})
            if any(other.id != user_id for other in others):
                raise ScimError(409, "userName is taken in this directory", "uniqueness")
        resource = _resource_of(person)
        if resource == current.resource:
            return current
        record = replace(
            current,
            resource=resource,
            version=current.version + 1,
            last_modified=services.clock(),
        )
        events = person_events(
            record, await _facts(services, current), await _facts(services, record)
        )
        if await _saved(services, directory.user_saved(record, current.version), events):
            return record
    raise ScimError(409, "the resource kept changing; try again")


async def delete_user(services: Services, tenant: str, user_id: str, if_match: str | None) -> None:
    directory = services.directory
    for _ in range(RETRIES):
        current = await get_user(services, tenant, user_id)
        _check_version(current.version, if_match)
        # Out of their groups first: should the deletion stop halfway, the identity
        # provider's retry finds the person still there and deletes them again.
        await directory.remove_member(tenant, user_id, services.clock())
        # What the directory said of the person goes; the version stays (under a key that
        # does not name them), so a person created again under the same employee id goes
        # on from it.
        record = replace(
            current,
            resource={},
            groups=[],
            version=current.version + 1,
            last_modified=services.clock(),
            deleted=True,
        )
        events = person_events(record, await _facts(services, current), None)
        if await _saved(services, directory.user_saved(record, current.version), events):
            return
    raise ScimError(409, "the resource kept changing; try again")


async def list_users(
    services: Services,
    tenant: str,
    filter_text: str | None,
    start_index: str | None,
    count: str | None,
) -> tuple[int, int, list[UserRecord]]:
    """(totalResults, startIndex, the page of users)."""
    search = scim.parse_search(Person, filter_text, start_index, count, services.max_results)
    found = await services.directory.find_users(tenant, search.equalities)
    kept = []
    for record in found:
        person = record.person
        person.id = record.id
        if scim.matches(search.filter, person):
            kept.append(record)
    page = kept[search.start_index - 1 : search.start_index - 1 + search.count]
    return len(kept), search.start_index, page


# -- a person's own record ---------------------------------------------------------------


@dataclass(frozen=True)
class MyRecord:
    """What the directory holds of one person, for their own download: their User (None for
    a person it does not know, or deleted: a tombstone names nobody) and a page of their
    groups."""

    user: UserRecord | None
    groups: list[GroupRecord]


async def my_record(
    services: Services, tenant: str, employee_id: str, after: str | None, limit: int
) -> MyRecord:
    """The person's User and their groups by id, `limit` of them after the id `after`."""
    record = await services.directory.user_by_employee(tenant, employee_id)
    if record is None or record.deleted:
        return MyRecord(user=None, groups=[])
    groups = await services.directory.groups_page(tenant, record.id, after, limit)
    return MyRecord(user=record, groups=groups)


# -- groups ------------------------------------------------------------------------------


async def _members(services: Services, tenant: str, group: Group) -> list[str]:
    ids = [str(m.value) for m in group.members or [] if m.value]
    unique = list(dict.fromkeys(ids))
    found = {r.id for r in await services.directory.users_by_ids(tenant, unique)}
    missing = [i for i in unique if i not in found]
    if missing:
        raise scim.invalid(f"no User {missing[0]} (members are Users of this directory)")
    return unique


def _group_resource(group: Group) -> dict[str, Any]:
    resource = group.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    resource.pop("members", None)
    return resource


async def _check_group_name(
    services: Services, tenant: str, name: str, group_id: str | None
) -> None:
    for other in await services.directory.find_groups(tenant, {"displayname": name}):
        if other.id != group_id:
            raise ScimError(409, "displayName is taken in this directory", "uniqueness")


async def create_group(services: Services, tenant: str, body: object) -> GroupRecord:
    group = scim.parse_group(body)
    await _check_group_name(services, tenant, group.display_name or "", None)
    members = await _members(services, tenant, group)
    now = services.clock()
    record = GroupRecord(
        tenant=tenant,
        id=uuid.uuid4().hex,
        resource=_group_resource(group),
        members=members,
        version=1,
        created=now,
        last_modified=now,
        sync=members,
    )
    try:
        await services.directory.insert_group(record)
    except Conflict:
        raise ScimError(409, "displayName is taken in this directory", "uniqueness") from None
    await settle_group(services, record)
    return record


async def get_group(services: Services, tenant: str, group_id: str) -> GroupRecord:
    record = await services.directory.group(tenant, group_id)
    if record is None:
        raise ScimError(404, f"no Group {group_id}")
    return record


def group_model(record: GroupRecord) -> Group:
    group = Group.model_validate(record.resource)
    group.id = record.id
    return Group.model_validate(
        {**group.model_dump(), "members": [{"value": m} for m in record.members]}
    )


async def replace_group(
    services: Services, tenant: str, group_id: str, body: object, if_match: str | None
) -> GroupRecord:
    group = scim.parse_group(body)
    return await _change_group(services, tenant, group_id, if_match, lambda _: group)


async def patch_group(
    services: Services, tenant: str, group_id: str, body: object, if_match: str | None
) -> GroupRecord:
    return await _change_group(
        services, tenant, group_id, if_match, lambda current: scim.patch_group(current, body)
    )


async def _change_group(
    services: Services,
    tenant: str,
    group_id: str,
    if_match: str | None,
    change: Callable[[Group], Group],
) -> GroupRecord:
    for _ in range(RETRIES):
        current = await get_group(services, tenant, group_id)
        _check_version(current.version, if_match)
        group = change(group_model(current))
        resource = _group_resource(group)
        resource.pop("id", None)
        if group.display_name != current.display_name:
            await _check_group_name(services, tenant, group.display_name or "", group_id)
        members = await _members(services, tenant, group)
        if resource == current.resource and members == current.members:
            return current
        renamed = group.display_name != current.display_name
        affected = set(current.members) ^ set(members)
        if renamed:
            affected |= set(current.members) | set(members)
        record = replace(
            current,
            resource=resource,
            members=members,
            version=current.version + 1,
            last_modified=services.clock(),
            sync=sorted(set(current.sync) | affected),
        )
        try:
            written = await services.directory.write_group(record, current.version)
        except Conflict:
            raise ScimError(409, "displayName is taken in this directory", "uniqueness") from None
        if written:
            await settle_group(services, record)
            return record
    raise ScimError(409, "the resource kept changing; try again")


async def delete_group(
    services: Services, tenant: str, group_id: str, if_match: str | None
) -> None:
    for _ in range(RETRIES):
        current = await get_group(services, tenant, group_id)
        _check_version(current.version, if_match)
        record = replace(
            current,
            members=[],
            version=current.version + 1,
            last_modified=services.clock(),
            deleted=True,
            sync=sorted(set(current.sync) | set(current.members)),
        )
        if await services.directory.write_group(record, current.version):
            await settle_group(services, record)
            return
    raise ScimError(409, "the resource kept changing; try again")


async def list_groups(
    services: Services,
    tenant: str,
    filter_text: str | None,
    start_index: str | None,
    count: str | None,
) -> tuple[int, int, list[GroupRecord]]:
    search = scim.parse_search(Group, filter_text, start_index, count, services.max_results)
    kept = [
        record
        for record in await services.directory.find_groups(tenant, search.equalities)
        if scim.matches(search.filter, group_model(record))
    ]
    page = kept[search.start_index - 1 : search.start_index - 1 + search.count]
    return len(kept), search.start_index, page


# -- a person's groups --------------------------------------------------------------------


async def refresh_groups_of(services: Services, tenant: str, user_id: str) -> None:
    """Bring a person's `groups` up to date with the groups they are a member of; publish
    PersonUpserted (a new version) when they changed."""
    directory = services.directory
    for _ in range(RETRIES):
        current = await directory.user(tenant, user_id)
        if current is None:
            return
        names = sorted(await directory.group_names_of(tenant, user_id))
        if names == sorted(current.groups):
            return
        record = replace(
            current, groups=names, version=current.version + 1, last_modified=services.clock()
        )
        events = person_events(
            record, await _facts(services, current), await _facts(services, record)
        )
        if await _saved(services, directory.user_saved(record, current.version), events):
            return
    raise RuntimeError(f"person {user_id} kept changing while their groups were updated")


async def settle_group(services: Services, record: GroupRecord) -> None:
    """Update the people a group change concerns, then forget them."""
    for user_id in record.sync:
        await refresh_groups_of(services, record.tenant, user_id)
    await services.directory.clear_sync(record)


async def settle_pending_groups(services: Services, limit: int = 100) -> int:
    """The worker's part: finish group changes whose people were not all updated."""
    settled = 0
    for _ in range(limit):
        record = await services.directory.claim_group_to_sync()
        if record is None:
            break
        await settle_group(services, record)
        settled += 1
    return settled
