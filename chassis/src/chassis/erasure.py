"""A service's confirmation of an erasure: one ErasureCompleted per service and request.

A service confirms once nothing it stores names the person any more. The confirmation is
staged in a document of the service's own `erasure_confirmations` collection (see
`chassis.outbox`), whose `_id` is the event's id, derived from the request and the service:
inserting it again is a duplicate key and publishes nothing, so a redelivered or replayed
erasure, or a retry after a crash, confirms at most once. If the process dies between the
insert and the publish, the worker's relay publishes it (list `Confirmations.outbox` among
the relay's outboxes). The document holds the tenant, the request and the time: no
personal data.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pymongo.asynchronous.database import AsyncDatabase

from chassis.kafka import EventPublisher
from chassis.outbox import DocumentWrite, Outbox, ensure_index
from chassis.telemetry import current_traceparent
from chassis.uow import UnitOfWork
from contracts import ErasureCompleted

COLLECTION = "erasure_confirmations"


class Confirmations:
    """`service`'s ErasureCompleted events, staged and published through an outbox."""

    def __init__(
        self,
        db: AsyncDatabase[dict[str, Any]],
        publisher: EventPublisher,
        service: str,
        lease_seconds: float = 30.0,
    ) -> None:
        self.collection = db[COLLECTION]
        self.outbox = Outbox(self.collection, publisher, lease_seconds)
        self.service = service

    async def ensure_indexes(self) -> None:
        await ensure_index(self.collection)

    def confirmation(self, tenant: str, request_id: str, at: datetime) -> ErasureCompleted:
        return ErasureCompleted.confirming(
            tenant, request_id, self.service, at, current_traceparent()
        )

    def write(self, event: ErasureCompleted) -> DocumentWrite:
        """The insert that stages `event`; a repeat lands nothing and publishes nothing."""
        return DocumentWrite(
            self.outbox,
            event.id,
            new={
                "_id": event.id,
                "tenant": event.tenantid,
                "request_id": event.data.request_id,
                "completed_at": event.data.completed_at,
            },
            must_land=False,
        )

    async def confirm(self, tenant: str, request_id: str, at: datetime) -> bool:
        """Confirm `request_id` for this service; whether this call was the first to."""
        event = self.confirmation(tenant, request_id, at)
        async with UnitOfWork() as uow:
            uow.add(self.write(event), [event])
        return bool(uow.committed)
