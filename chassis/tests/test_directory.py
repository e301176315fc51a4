"""The directory projection's ordering rules and the overlay, over a fake of its store."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from chassis.auth import Principal
from chassis.directory import Directory, Outcome, Status, outcome_of
from chassis.errors import Problem
from contracts import (
    PersonDeactivated,
    PersonDeactivatedData,
    PersonDeleted,
    PersonDeletedData,
    PersonUpserted,
    PersonUpsertedData,
)
from contracts.erasure import person_key

NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
TENANT = "acme"


class FakeStore:
    """The store's contract in memory: a write lands only over an older version."""

    def __init__(self) -> None:
        self.docs: dict[str, dict[str, Any]] = {}
        self.reads = 0
        self.presence_reads = 0

    async def get(self, key: str) -> dict[str, Any] | None:
        self.reads += 1
        doc = self.docs.get(key)
        return dict(doc) if doc is not None else None

    async def has_people(self, tenant: str) -> bool:
        self.presence_reads += 1
        return any(doc.get("tenant") == tenant for doc in self.docs.values())

    async def write_if_older(
        self, key: str, version: int, fields: dict[str, Any], remove: Sequence[str]
    ) -> bool:
        doc = self.docs.get(key)
        if doc is not None and doc["version"] >= version:
            return False
        doc = {**(doc or {"_id": key}), **fields}
        for name in remove:
            doc.pop(name, None)
        self.docs[key] = doc
        return True


def upserted(version: int, groups: list[str], **extra: Any) -> PersonUpserted:
    return PersonUpserted.create(
        tenant_id=TENANT,
        subject="e1",
        data=PersonUpsertedData(
            employee_id="e1",
            version=version,
            user_name="e1@acme.example",
            groups=groups,
            updated_at=NOW,
            **extra,
        ),
    )


def deactivated(version: int) -> PersonDeactivated:
    return PersonDeactivated.create(
        tenant_id=TENANT,
        subject="e1",
        data=PersonDeactivatedData(employee_id="e1", version=version, deactivated_at=NOW),
    )


def deleted(version: int) -> PersonDeleted:
    return PersonDeleted.create(
        tenant_id=TENANT,
        subject="e1",
        data=PersonDeletedData(employee_id="e1", version=version, deleted_at=NOW),
    )


CALLER = Principal(
    employee_id="e1",
    tenant=TENANT,
    roles=frozenset({"employee"}),
    groups=frozenset({"sales"}),
    location="berlin",
    languages=("de",),
)


@pytest.mark.parametrize(
    ("stored", "version", "outcome"),
    [
        (None, 1, Outcome.APPLIED),
        (1, 2, Outcome.APPLIED),
        (2, 2, Outcome.REPEATED),
        (3, 2, Outcome.STALE),
    ],
)
def test_only_a_newer_version_changes_the_person(stored, version, outcome) -> None:
    assert outcome_of(stored, version) is outcome
    assert outcome.current is (outcome is not Outcome.STALE)


async def test_an_older_version_after_a_newer_one_changes_nothing() -> None:
    store = FakeStore()
    directory = Directory(store, cache_seconds=0)
    assert await directory.apply(upserted(2, ["b"], location="paris")) is Outcome.APPLIED
    assert await directory.apply(upserted(1, ["a"])) is Outcome.STALE
    assert await directory.apply(upserted(2, ["b"], location="paris")) is Outcome.REPEATED
    person = await directory.person(TENANT, "e1")
    assert person is not None
    assert (person.version, person.groups, person.location) == (2, frozenset({"b"}), "paris")


async def test_a_deletion_leaves_a_tombstone_a_late_upsert_does_not_undo() -> None:
    store = FakeStore()
    directory = Directory(store, cache_seconds=0)
    await directory.apply(upserted(1, ["a"], location="paris", languages=["fr"]))
    assert await directory.apply(deleted(3)) is Outcome.APPLIED
    assert await directory.apply(upserted(2, ["b"])) is Outcome.STALE
    assert await directory.apply(deactivated(2)) is Outcome.STALE
    assert await directory.apply(deleted(3)) is Outcome.REPEATED
    (key, doc), *_ = store.docs.items()
    # Nothing of the person: the tombstone is found by a hash of their id, never by the id.
    assert doc["status"] == Status.DELETED and doc["version"] == 3
    assert not {"groups", "location", "languages"} & set(doc)
    assert key == person_key(TENANT, "e1") and "e1" not in repr(doc)
    # A newer version (the person created again under the same id) does come back.
    assert await directory.apply(upserted(4, ["c"])) is Outcome.APPLIED
    person = await directory.person(TENANT, "e1")
    assert person is not None
    assert (person.status, person.groups) == (Status.ACTIVE, frozenset({"c"}))


async def test_a_deactivation_keeps_the_profile_and_a_newer_upsert_reactivates() -> None:
    directory = Directory(FakeStore(), cache_seconds=0)
    await directory.apply(upserted(1, ["a"]))
    await directory.apply(deactivated(2))
    person = await directory.person(TENANT, "e1")
    assert person is not None and person.status is Status.DEACTIVATED
    assert person.groups == frozenset({"a"})
    await directory.apply(upserted(3, ["a"]))
    person = await directory.person(TENANT, "e1")
    assert person is not None and person.status is Status.ACTIVE


async def test_a_persons_entry_is_what_the_copy_holds_of_them_in_their_tenant() -> None:
    store = FakeStore()
    directory = Directory(store)
    assert await directory.entry(TENANT, "e1") is None
    await directory.apply(upserted(1, ["b", "a"], location="paris", languages=["fr"]))
    await directory.person(TENANT, "e1")  # cached: the entry is read anew all the same
    await directory.apply(deactivated(2))
    entry = await directory.entry(TENANT, "e1")
    assert entry is not None
    assert entry.model_dump() == {
        "status": Status.DEACTIVATED,
        "version": 2,
        "groups": ["a", "b"],
        "location": "paris",
        "languages": ["fr"],
        "changed_at": NOW,
    }
    assert await directory.entry("other", "e1") is None
    await directory.apply(deleted(3))
    tombstone = await directory.entry(TENANT, "e1")
    assert tombstone is not None
    assert (tombstone.status, tombstone.version, tombstone.groups) == (Status.DELETED, 3, [])


async def test_the_overlay_takes_the_directorys_profile_over_the_tokens() -> None:
    directory = Directory(FakeStore(), cache_seconds=0)
    stranger = Principal(employee_id="e2", tenant=TENANT, roles=frozenset({"employee"}))
    assert await directory.overlay(stranger) is stranger  # not in the directory: the token
    await directory.apply(upserted(1, ["marketing"], location="paris", languages=["fr", "en"]))
    seen = await directory.overlay(CALLER)
    assert seen.groups == frozenset({"marketing"})
    assert (seen.location, seen.languages) == ("paris", ("fr", "en"))
    assert (seen.employee_id, seen.roles) == (CALLER.employee_id, CALLER.roles)


@pytest.mark.parametrize(
    ("event", "word"),
    [
        (deactivated(2), "deactivated"),
        (deleted(2), "deleted"),
        (upserted(2, ["a"], active=False), "deactivated"),
    ],
)
async def test_the_overlay_refuses_a_person_the_directory_turned_away(event, word) -> None:
    directory = Directory(FakeStore(), cache_seconds=0)
    await directory.apply(upserted(1, ["a"]))
    await directory.apply(event)
    with pytest.raises(Problem) as refused:
        await directory.overlay(CALLER)
    assert refused.value.status == 403
    assert f"directory {word}" in refused.value.detail


async def test_reads_are_cached_for_a_few_seconds() -> None:
    store = FakeStore()
    now = [100.0]
    directory = Directory(store, cache_seconds=5, clock=lambda: now[0])
    await directory.apply(upserted(1, ["a"]))
    reads = store.reads
    for _ in range(10):
        await directory.overlay(CALLER)
    assert store.reads == reads + 1
    now[0] += 5
    await directory.overlay(CALLER)
    assert store.reads == reads + 2
    # Absent people are cached too.
    stranger = Principal(employee_id="e2", tenant=TENANT, roles=frozenset())
    await directory.overlay(stranger)
    await directory.overlay(stranger)
    assert store.reads == reads + 3


async def test_a_tenant_without_a_directory_costs_no_read_per_person() -> None:
    store = FakeStore()
    now = [100.0]
    directory = Directory(store, cache_seconds=5, clock=lambda: now[0])
    for n in range(100):
        caller = Principal(employee_id=f"e{n}", tenant="no-scim", roles=frozenset())
        assert await directory.overlay(caller) == caller
    assert (store.presence_reads, store.reads) == (1, 0)
    now[0] += 5
    await directory.person("no-scim", "e1")
    assert (store.presence_reads, store.reads) == (2, 0)


async def test_the_first_person_of_a_tenant_is_seen_at_once_in_the_process_that_applied_it() -> (
    None
):
    store = FakeStore()
    directory = Directory(store)
    assert await directory.person(TENANT, "e1") is None
    await directory.apply(upserted(1, ["a"]))
    person = await directory.person(TENANT, "e1")
    assert person is not None and person.groups == {"a"}


async def test_the_cache_is_bounded() -> None:
    directory = Directory(FakeStore(), cache_entries=3)
    await directory.apply(upserted(1, ["a"]))
    for n in range(10):
        await directory.person(TENANT, f"e{n}")
    assert len(directory._cache) == 3
