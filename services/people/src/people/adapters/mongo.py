"""The directory's MongoDB collections.

- `users`: one document per person, under a hash of tenant and employee id
  (`contracts.erasure.person_key`): their SCIM resource (as JSON text: the enterprise
  extension's URN has dots, which field names may not hold), the names of their groups,
  their version, and the events of their last change (outbox). A deleted person keeps a
  tombstone: the version and nothing that names them (no resource, no employee id, no
  SCIM id, no userName), so one created again under the same employee id goes on from that
  version. `user_name_key` (userName folded to lower case) is unique per tenant, as is
  `id`; a tombstone's are its key, out of the way.
- `groups`: one document per group (`<tenant>:<group id>`): its resource, its members (User
  ids), its version, and `sync`: the members whose groups may have changed and are not yet
  brought up to date, with a lease (`sync_lease`) for the worker to take over.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from pymongo import ASCENDING, ReturnDocument
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.asynchronous.database import AsyncDatabase
from pymongo.errors import DuplicateKeyError

from chassis import outbox
from chassis.kafka import EventPublisher
from chassis.outbox import DocumentWrite
from contracts.erasure import person_key
from people.domain.scim import fold
from people.service_layer.directory import Conflict, GroupRecord, UserRecord


def _encode(resource: dict[str, Any]) -> str:
    # As JSON text: the enterprise extension's key is a URN with dots, which MongoDB's
    # field names may not hold (FerretDB refuses them outright).
    return json.dumps(resource, default=str, separators=(",", ":"))


def _decode(stored: Any) -> dict[str, Any]:
    resource: dict[str, Any] = json.loads(stored) if stored else {}
    return resource


def _tombstone_key(record_id: str) -> str:
    return f"~deleted~{record_id}"


def _user_key(tenant: str, employee_id: str) -> str:
    return person_key(tenant, employee_id)


def _user_doc(record: UserRecord) -> dict[str, Any]:
    if record.deleted:
        # A tombstone: the version, and nothing by which the person could be found.
        hidden = _tombstone_key(_user_key(record.tenant, record.employee_id))
        return {
            "tenant": record.tenant,
            "id": hidden,
            "employee_id": None,
            "user_name_key": hidden,
            "external_id": None,
            "resource": _encode({}),
            "groups": [],
            "version": record.version,
            "created": record.last_modified,
            "last_modified": record.last_modified,
            "deleted": True,
        }
    user_name = str(record.resource.get("userName") or "")
    return {
        "tenant": record.tenant,
        "id": record.id,
        "employee_id": record.employee_id,
        "user_name_key": fold(user_name),
        "external_id": record.resource.get("externalId"),
        "resource": _encode(record.resource),
        "groups": record.groups,
        "version": record.version,
        "created": record.created,
        "last_modified": record.last_modified,
        "deleted": False,
    }


def _user(doc: dict[str, Any], employee_id: str | None = None) -> UserRecord:
    return UserRecord(
        tenant=doc["tenant"],
        id=doc["id"],
        employee_id=doc.get("employee_id") or employee_id or "",
        resource=_decode(doc.get("resource")),
        groups=list(doc.get("groups") or []),
        version=doc["version"],
        created=doc["created"],
        last_modified=doc["last_modified"],
        deleted=bool(doc.get("deleted")),
    )


def _group_doc(record: GroupRecord) -> dict[str, Any]:
    name = record.display_name
    return {
        "tenant": record.tenant,
        "id": record.id,
        "display_key": _tombstone_key(record.id) if record.deleted else fold(name),
        "external_id": None if record.deleted else record.resource.get("externalId"),
        "resource": _encode(record.resource),
        "members": record.members,
        "version": record.version,
        "created": record.created,
        "last_modified": record.last_modified,
        "deleted": record.deleted,
        "sync": record.sync,
    }


def _group(doc: dict[str, Any]) -> GroupRecord:
    return GroupRecord(
        tenant=doc["tenant"],
        id=doc["id"],
        resource=_decode(doc.get("resource")),
        members=list(doc.get("members") or []),
        version=doc["version"],
        created=doc["created"],
        last_modified=doc["last_modified"],
        deleted=bool(doc.get("deleted")),
        sync=list(doc.get("sync") or []),
    )


class MongoDirectory:
    """The `Directory` port over MongoDB."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        publisher: EventPublisher,
        lease_seconds: float,
        sync_lease_seconds: float = 10.0,
    ) -> None:
        self.users: AsyncCollection[dict[str, Any]] = db["users"]
        self.groups: AsyncCollection[dict[str, Any]] = db["groups"]
        self.outbox = outbox.Outbox(self.users, publisher, lease_seconds)
        self.sync_lease_seconds = sync_lease_seconds

    async def ensure_indexes(self) -> None:
        await self.users.create_index(
            [("tenant", ASCENDING), ("user_name_key", ASCENDING)], unique=True
        )
        await self.users.create_index([("tenant", ASCENDING), ("id", ASCENDING)], unique=True)
        await self.users.create_index([("tenant", ASCENDING), ("external_id", ASCENDING)])
        await self.groups.create_index(
            [("tenant", ASCENDING), ("display_key", ASCENDING)], unique=True
        )
        await self.groups.create_index([("tenant", ASCENDING), ("id", ASCENDING)], unique=True)
        await self.groups.create_index([("tenant", ASCENDING), ("members", ASCENDING)])
        await self.groups.create_index([("sync_lease", ASCENDING)])
        await outbox.ensure_index(self.users)

    # -- users ---------------------------------------------------------------------------

    async def user(self, tenant: str, user_id: str) -> UserRecord | None:
        doc = await self.users.find_one({"tenant": tenant, "id": user_id, "deleted": False})
        return _user(doc) if doc is not None else None

    async def user_by_employee(self, tenant: str, employee_id: str) -> UserRecord | None:
        doc = await self.users.find_one({"_id": _user_key(tenant, employee_id)})
        return _user(doc, employee_id) if doc is not None else None

    async def users_by_ids(self, tenant: str, ids: Sequence[str]) -> list[UserRecord]:
        if not ids:
            return []
        cursor = self.users.find({"tenant": tenant, "id": {"$in": list(ids)}, "deleted": False})
        return [_user(doc) async for doc in cursor]

    async def find_users(self, tenant: str, equal: Mapping[str, Any]) -> list[UserRecord]:
        query: dict[str, Any] = {"tenant": tenant, "deleted": False}
        # Narrow by what the filter requires; the filter itself is still applied to each.
        if isinstance(equal.get("username"), str):
            query["user_name_key"] = fold(equal["username"])
        if isinstance(equal.get("externalid"), str):
            query["external_id"] = equal["externalid"]
        if isinstance(equal.get("id"), str):
            query["id"] = equal["id"]
        cursor = self.users.find(query).sort("created", ASCENDING)
        return [_user(doc) async for doc in cursor]

    def user_created(self, record: UserRecord) -> DocumentWrite:
        """Insert the person; `Conflict` if their key (employee id) or userName is taken."""
        key = _user_key(record.tenant, record.employee_id)
        return DocumentWrite(
            self.outbox,
            key,
            new={"_id": key, **_user_doc(record)},
            conflict="userName is taken in this directory",
        )

    def user_saved(self, record: UserRecord, expected_version: int) -> DocumentWrite:
        """Replace the person's state if they are still at `expected_version`; `Conflict`
        if they are not, or their new userName is taken."""
        key = _user_key(record.tenant, record.employee_id)
        return DocumentWrite(
            self.outbox,
            key,
            where={"_id": key, "version": expected_version},
            update={"$set": _user_doc(record)},
        )

    # -- groups --------------------------------------------------------------------------

    async def group(self, tenant: str, group_id: str) -> GroupRecord | None:
        doc = await self.groups.find_one({"_id": f"{tenant}:{group_id}", "deleted": False})
        return _group(doc) if doc is not None else None

    async def find_groups(self, tenant: str, equal: Mapping[str, Any]) -> list[GroupRecord]:
        query: dict[str, Any] = {"tenant": tenant, "deleted": False}
        if isinstance(equal.get("displayname"), str):
            query["display_key"] = fold(equal["displayname"])
        if isinstance(equal.get("externalid"), str):
            query["external_id"] = equal["externalid"]
        if isinstance(equal.get("id"), str):
            query["id"] = equal["id"]
        cursor = self.groups.find(query).sort("created", ASCENDING)
        return [_group(doc) async for doc in cursor]

    async def groups_of(self, tenant: str, user_id: str) -> list[GroupRecord]:
        cursor = self.groups.find({"tenant": tenant, "members": user_id, "deleted": False})
        return [_group(doc) async for doc in cursor]

    async def groups_page(
        self, tenant: str, user_id: str, after: str | None, limit: int
    ) -> list[GroupRecord]:
        query: dict[str, Any] = {"tenant": tenant, "members": user_id, "deleted": False}
        if after is not None:
            query["id"] = {"$gt": after}
        cursor = self.groups.find(query).sort("id", ASCENDING).limit(limit)
        return [_group(doc) async for doc in cursor]

    async def group_names_of(self, tenant: str, user_id: str) -> list[str]:
        return [group.display_name for group in await self.groups_of(tenant, user_id)]

    async def remove_member(self, tenant: str, user_id: str, when: datetime) -> None:
        # Each group a new version (its ETag changes); the person's own groups go with them.
        await self.groups.update_many(
            {"tenant": tenant, "members": user_id},
            {
                "$pull": {"members": user_id, "sync": user_id},
                "$inc": {"version": 1},
                "$set": {"last_modified": when},
            },
        )
        await self.groups.update_many(
            {"tenant": tenant, "sync": user_id}, {"$pull": {"sync": user_id}}
        )

    async def insert_group(self, record: GroupRecord) -> None:
        doc = {"_id": f"{record.tenant}:{record.id}", **_group_doc(record)}
        if record.sync:
            doc["sync_lease"] = self._lease()
        try:
            await self.groups.insert_one(doc)
        except DuplicateKeyError:
            raise Conflict from None

    async def write_group(self, record: GroupRecord, expected_version: int) -> bool:
        update: dict[str, Any] = {"$set": _group_doc(record)}
        if record.sync:
            update["$set"]["sync_lease"] = self._lease()
        else:
            update["$unset"] = {"sync_lease": ""}
        try:
            result = await self.groups.update_one(
                {"_id": f"{record.tenant}:{record.id}", "version": expected_version}, update
            )
        except DuplicateKeyError:
            raise Conflict from None
        return result.modified_count == 1

    async def clear_sync(self, record: GroupRecord) -> None:
        # Only if nobody changed the group since: a newer change settles its own `sync`.
        await self.groups.update_one(
            {"_id": f"{record.tenant}:{record.id}", "version": record.version},
            {"$set": {"sync": []}, "$unset": {"sync_lease": ""}},
        )

    async def claim_group_to_sync(self) -> GroupRecord | None:
        now = datetime.now(UTC)
        doc = await self.groups.find_one_and_update(
            {"sync_lease": {"$lte": now}},
            {"$set": {"sync_lease": now + timedelta(seconds=self.sync_lease_seconds)}},
            return_document=ReturnDocument.AFTER,
        )
        return _group(doc) if doc is not None else None

    def _lease(self) -> datetime:
        return datetime.now(UTC) + timedelta(seconds=self.sync_lease_seconds)
