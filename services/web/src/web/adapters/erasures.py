"""The program team's view of erasures: each request and the services that confirmed it.

One document per tenant and request (`erasure_requests`), written from ErasureRequested and
ErasureCompleted by the worker. Every write sets what its event says, so a redelivered or
replayed event writes the same again; the two topics come in any order, and either event
may create the document. Nothing here names the person: the events do not.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from pymongo import ASCENDING, DESCENDING
from pymongo.asynchronous.database import AsyncDatabase

from contracts import ErasureCompleted, ErasureRequested
from web.domain.erasures import ErasureStatus, newest_first

# A service's name becomes a field name: nothing but a plain name may.
SERVICE_NAME = re.compile(r"^[a-z][a-z0-9-]{0,39}$")


def _utc(value: Any) -> datetime | None:
    if not isinstance(value, datetime):
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class ErasureRequests:
    def __init__(self, db: AsyncDatabase[dict[str, Any]]) -> None:
        self.requests = db["erasure_requests"]

    async def ensure_indexes(self) -> None:
        await self.requests.create_index([("tenant", ASCENDING), ("requested_at", DESCENDING)])

    async def requested(self, event: ErasureRequested) -> None:
        data = event.data
        await self.requests.update_one(
            {"_id": f"{event.tenantid}:{data.request_id}"},
            {
                "$set": {
                    "requested_at": data.requested_at,
                    "origin": data.origin.value,
                    "expected": [s for s in data.services if SERVICE_NAME.match(s)],
                },
                "$setOnInsert": {"tenant": event.tenantid, "request_id": data.request_id},
            },
            upsert=True,
        )

    async def completed(self, event: ErasureCompleted) -> None:
        data = event.data
        if not SERVICE_NAME.match(data.service):
            return
        await self.requests.update_one(
            {"_id": f"{event.tenantid}:{data.request_id}"},
            {
                "$set": {f"confirmed.{data.service}": data.completed_at},
                "$setOnInsert": {"tenant": event.tenantid, "request_id": data.request_id},
            },
            upsert=True,
        )

    async def of_tenant(self, tenant: str, limit: int = 100) -> list[ErasureStatus]:
        """The tenant's latest requests, newest first."""
        found = self.requests.find({"tenant": tenant}).sort("requested_at", DESCENDING)
        statuses = [_status_of(doc) async for doc in found.limit(limit)]
        return newest_first(statuses)


def _status_of(doc: dict[str, Any]) -> ErasureStatus:
    confirmed = {
        service: at
        for service, raw in (doc.get("confirmed") or {}).items()
        if (at := _utc(raw)) is not None
    }
    expected = tuple(doc.get("expected") or ())
    return ErasureStatus(
        request_id=doc["request_id"],
        requested_at=_utc(doc.get("requested_at")),
        origin=doc.get("origin"),
        **({"expected": expected} if expected else {}),
        confirmed=confirmed,
    )
