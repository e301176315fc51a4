"""The directory's use cases over an in-memory directory: people and groups change by
version, every change of a person lands with its events in one unit of work, and what
SCIM refuses is refused with its status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest

from chassis.domain_errors import Conflict as ChangedMeanwhile
from contracts import AnyEvent
from people.domain import scim
from people.domain.scim import ENTERPRISE_SCHEMA, PATCH_SCHEMA, ScimError
from people.service_layer import directory
from people.service_layer.directory import Conflict, GroupRecord, Services, UserRecord
from support import Units

T = "t1"
USER = "urn:ietf:params:scim:schemas:core:2.0:User"
GROUP = "urn:ietf:params:scim:schemas:core:2.0:Group"


class PersonWrite:
    """A person's write for the unit of work: it lands only at the version it expects,
    and only with a userName nobody else holds."""

    def __init__(self, people: FakeDirectory, record: UserRecord, expected: int | None) -> None:
        self.people, self.record, self.expected = people, record, expected
        self.published: list[AnyEvent] = []

    async def apply(self, events: Sequence[AnyEvent]) -> bool:
        people, record = self.people, self.record
        if people.interfere:
            people.interfere.pop(0)(people)
        current = people.users.get(record.employee_id)
        stored_version = current.version if current is not None else None
        if stored_version != self.expected or people.name_taken(record):
            raise ChangedMeanwhile("it changed meanwhile")
        people.users[record.employee_id] = record
        return True

    async def publish(self, events: Sequence[AnyEvent]) -> None:
        self.published.extend(events)
        self.people.published.extend(events)


class FakeDirectory:
    """The `Directory` port in memory: people by employee id, groups by id."""

    def __init__(self) -> None:
        self.users: dict[str, UserRecord] = {}
        self.group_records: dict[str, GroupRecord] = {}
        self.published: list[AnyEvent] = []
        # Changes another writer makes just before the next person's write lands.
        self.interfere: list[Any] = []

    def name_taken(self, record: UserRecord) -> bool:
        if record.deleted:
            return False
        name = scim.fold(str(record.resource.get("userName") or ""))
        return any(
            not other.deleted
            and other.employee_id != record.employee_id
            and scim.fold(str(other.resource.get("userName") or "")) == name
            for other in self.users.values()
        )

    def _alive(self, tenant: str) -> list[UserRecord]:
        return [u for u in self.users.values() if u.tenant == tenant and not u.deleted]

    async def user(self, tenant: str, user_id: str) -> UserRecord | None:
        return next((u for u in self._alive(tenant) if u.id == user_id), None)

    async def user_by_employee(self, tenant: str, employee_id: str) -> UserRecord | None:
        return self.users.get(employee_id)

    async def users_by_ids(self, tenant: str, ids: Sequence[str]) -> list[UserRecord]:
        return [u for u in self._alive(tenant) if u.id in ids]

    async def find_users(self, tenant: str, equal: Mapping[str, Any]) -> list[UserRecord]:
        found = self._alive(tenant)
        if isinstance(equal.get("username"), str):
            name = scim.fold(equal["username"])
            found = [u for u in found if scim.fold(str(u.resource.get("userName"))) == name]
        return found

    def user_created(self, record: UserRecord) -> PersonWrite:
        return PersonWrite(self, record, None)

    def user_saved(self, record: UserRecord, expected_version: int) -> PersonWrite:
        return PersonWrite(self, record, expected_version)

    async def group(self, tenant: str, group_id: str) -> GroupRecord | None:
        found = self.group_records.get(group_id)
        return found if found is not None and not found.deleted else None

    async def find_groups(self, tenant: str, equal: Mapping[str, Any]) -> list[GroupRecord]:
        found = [g for g in self.group_records.values() if not g.deleted]
        if isinstance(equal.get("displayname"), str):
            name = scim.fold(equal["displayname"])
            found = [g for g in found if scim.fold(g.display_name) == name]
        return found

    async def group_names_of(self, tenant: str, user_id: str) -> list[str]:
        return [g.display_name for g in await self.groups_of(tenant, user_id)]

    async def groups_of(self, tenant: str, user_id: str) -> list[GroupRecord]:
        return [g for g in self.group_records.values() if not g.deleted and user_id in g.members]

    async def groups_page(
        self, tenant: str, user_id: str, after: str | None, limit: int
    ) -> list[GroupRecord]:
        mine = sorted(await self.groups_of(tenant, user_id), key=lambda g: g.id)
        return [g for g in mine if after is None or g.id > after][:limit]

    async def remove_member(self, tenant: str, user_id: str, when: datetime) -> None:
        for key, g in self.group_records.items():
            if user_id in g.members:
                members = [m for m in g.members if m != user_id]
                self.group_records[key] = replace(g, members=members, version=g.version + 1)

    async def insert_group(self, record: GroupRecord) -> None:
        if await self.find_groups(record.tenant, {"displayname": record.display_name}):
            raise Conflict
        self.group_records[record.id] = record

    async def write_group(self, record: GroupRecord, expected_version: int) -> bool:
        if self.group_records[record.id].version != expected_version:
            return False
        self.group_records[record.id] = record
        return True

    async def clear_sync(self, record: GroupRecord) -> None:
        current = self.group_records[record.id]
        if current.version == record.version:
            self.group_records[record.id] = replace(current, sync=[])

    async def claim_group_to_sync(self) -> GroupRecord | None:
        return next((g for g in self.group_records.values() if g.sync), None)


def names(events: Sequence[Any]) -> list[str]:
    return [type(event).__name__ for event in events]


@pytest.fixture
def people() -> FakeDirectory:
    return FakeDirectory()


@pytest.fixture
def units() -> Units:
    return Units()


@pytest.fixture
def services(people: FakeDirectory, units: Units) -> Services:
    now = datetime(2026, 11, 2, 9, tzinfo=UTC)
    return Services(directory=people, clock=lambda: now, uow=units)


def user_body(name: str = "alice", **extra: Any) -> dict[str, Any]:
    return {
        "schemas": [USER, ENTERPRISE_SCHEMA],
        "userName": name,
        "active": True,
        "name": {"givenName": name.title(), "familyName": "Adams"},
        f"{ENTERPRISE_SCHEMA}": {"department": "Sales"},
        **extra,
    }


def deactivate() -> dict[str, Any]:
    return {
        "schemas": [PATCH_SCHEMA],
        "Operations": [{"op": "replace", "path": "active", "value": False}],
    }


async def test_a_new_person_is_written_with_their_upsert(
    services: Services, people: FakeDirectory, units: Units
) -> None:
    record = await directory.create_user(services, T, user_body())
    assert people.users["alice"].version == 1
    assert names(units.committed) == ["PersonUpserted"]
    assert [type(e).__name__ for e in people.published] == ["PersonUpserted"]
    assert (await directory.get_user(services, T, record.id)).employee_id == "alice"


async def test_a_taken_user_name_is_refused(services: Services, units: Units) -> None:
    await directory.create_user(services, T, user_body())
    with pytest.raises(ScimError) as refused:
        await directory.create_user(services, T, user_body("ALICE"))
    assert (refused.value.status, refused.value.scim_type) == (409, "uniqueness")
    assert names(units.committed) == ["PersonUpserted"]


async def test_a_user_name_taken_meanwhile_is_refused(
    services: Services, people: FakeDirectory, units: Units
) -> None:
    await directory.create_user(services, T, user_body("alice"))

    def bob_takes_carol(d: FakeDirectory) -> None:
        bob = replace(d.users["alice"], employee_id="bob", id="u-bob", resource=user_body("carol"))
        d.users["bob"] = bob

    people.interfere.append(bob_takes_carol)
    with pytest.raises(ScimError) as refused:
        await directory.create_user(services, T, user_body("carol"))
    assert (refused.value.status, refused.value.detail) == (
        409,
        "userName is taken in this directory",
    )
    assert names(units.committed) == ["PersonUpserted"]


async def test_deactivation_says_so_in_its_own_event(services: Services, units: Units) -> None:
    record = await directory.create_user(services, T, user_body())
    changed = await directory.patch_user(services, T, record.id, deactivate(), None)
    assert changed.version == 2 and changed.person.active is False
    assert names(units.committed) == ["PersonUpserted", "PersonDeactivated"]


async def test_a_change_that_changes_nothing_writes_nothing(
    services: Services, units: Units
) -> None:
    record = await directory.create_user(services, T, user_body())
    same = await directory.replace_user(services, T, record.id, user_body(), None)
    assert same.version == 1 and len(units.opened) == 1


async def test_an_older_version_is_refused(services: Services) -> None:
    record = await directory.create_user(services, T, user_body())
    await directory.patch_user(services, T, record.id, deactivate(), None)
    with pytest.raises(ScimError) as refused:
        await directory.patch_user(services, T, record.id, deactivate(), 'W/"1"')
    assert (refused.value.status, refused.value.scim_type) == (412, "invalidVers")


async def test_a_person_changed_meanwhile_is_read_again_and_changed(
    services: Services, people: FakeDirectory, units: Units
) -> None:
    record = await directory.create_user(services, T, user_body())

    def other_writer(d: FakeDirectory) -> None:
        current = d.users["alice"]
        d.users["alice"] = replace(current, version=2, resource={**current.resource, "title": "W"})

    people.interfere.append(other_writer)
    changed = await directory.patch_user(services, T, record.id, deactivate(), None)
    assert changed.version == 3
    assert people.users["alice"].version == 3
    assert names(units.committed) == ["PersonUpserted", "PersonDeactivated"]


async def test_an_unknown_person_is_not_found(services: Services) -> None:
    with pytest.raises(ScimError) as refused:
        await directory.get_user(services, T, "nobody")
    assert refused.value.status == 404


async def test_a_deleted_person_leaves_a_tombstone_and_comes_back_at_the_next_version(
    services: Services, people: FakeDirectory, units: Units
) -> None:
    record = await directory.create_user(services, T, user_body())
    await directory.delete_user(services, T, record.id, None)
    assert people.users["alice"].deleted and people.users["alice"].resource == {}
    with pytest.raises(ScimError):
        await directory.get_user(services, T, record.id)
    again = await directory.create_user(services, T, user_body())
    assert again.version == 3
    assert names(units.committed) == ["PersonUpserted", "PersonDeleted", "PersonUpserted"]


async def test_a_group_brings_its_members_groups_up_to_date(
    services: Services, people: FakeDirectory, units: Units
) -> None:
    alice = await directory.create_user(services, T, user_body())
    group = await directory.create_group(
        services,
        T,
        {"schemas": [GROUP], "displayName": "Sales", "members": [{"value": alice.id}]},
    )
    assert people.users["alice"].groups == ["Sales"]
    assert people.group_records[group.id].sync == []
    assert names(units.committed) == ["PersonUpserted", "PersonUpserted"]
    await directory.delete_user(services, T, alice.id, None)
    assert people.group_records[group.id].members == []


async def test_a_patch_that_empties_a_name_is_refused_and_writes_nothing(
    services: Services, people: FakeDirectory, units: Units
) -> None:
    # Found by schemathesis: both were 500s, the group's after it was written with no name,
    # leaving its members to a worker that failed on them again and again.
    alice = await directory.create_user(services, T, user_body())
    group = await directory.create_group(
        services, T, {"schemas": [GROUP], "displayName": "Sales", "members": [{"value": alice.id}]}
    )
    stored, committed = people.group_records[group.id], list(units.committed)
    for patched, resource_id in (
        (directory.patch_user, alice.id),
        (directory.patch_group, group.id),
    ):
        name = "userName" if patched is directory.patch_user else "displayName"
        body = {"Operations": [{"op": "Replace", "path": name, "value": ""}]}
        with pytest.raises(ScimError) as refused:
            await patched(services, T, resource_id, body, None)
        assert (refused.value.status, refused.value.scim_type) == (400, "invalidValue")
    assert people.group_records[group.id] == stored
    assert people.users["alice"].groups == ["Sales"]
    assert people.users["alice"].resource["userName"] == "alice"
    assert units.committed == committed


async def test_a_group_of_unknown_people_or_a_taken_name_is_refused(services: Services) -> None:
    with pytest.raises(ScimError) as unknown:
        await directory.create_group(
            services, T, {"schemas": [GROUP], "displayName": "Sales", "members": [{"value": "x"}]}
        )
    assert unknown.value.status == 400
    await directory.create_group(services, T, {"schemas": [GROUP], "displayName": "Sales"})
    with pytest.raises(ScimError) as taken:
        await directory.create_group(services, T, {"schemas": [GROUP], "displayName": "sales"})
    assert (taken.value.status, taken.value.scim_type) == (409, "uniqueness")
