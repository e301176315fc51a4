"""Use cases of the content hub."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from chassis import outbox
from chassis.auth import Principal
from chassis.errors import Problem
from chassis.ids import new_id
from chassis.telemetry import current_traceparent
from content.adapters.mongo import ContentRepository
from content.domain.model import Status, check_window, initial_status
from contracts import ContentPublished, ContentPublishedData


@dataclass
class Services:
    repo: ContentRepository
    outbox: outbox.Outbox


async def create_content(
    services: Services, user: Principal, fields: dict[str, Any]
) -> dict[str, Any]:
    """A curator's item: published now, or scheduled for its publish time."""
    now = datetime.now(UTC)
    publish_at: datetime = fields.get("publish_at") or now
    if problem := check_window(publish_at, fields.get("expires_at")):
        raise Problem(
            422, "Invalid request", problem, errors=[{"field": "expires_at", "message": problem}]
        )
    content_id = new_id()
    status = initial_status(publish_at, now)
    doc = {
        "_id": content_id,
        "tenant": user.tenant,
        **fields,
        "publish_at": publish_at,
        "status": status.value,
        "created_by": user.employee_id,
        "created_at": now,
    }
    events = []
    if status is Status.PUBLISHED:
        events.append(
            ContentPublished.create(
                tenant_id=user.tenant,
                subject=content_id,
                traceparent=current_traceparent(),
                data=ContentPublishedData(
                    content_id=content_id,
                    published_by=user.employee_id,
                    **{k: v for k, v in doc.items() if k in ContentPublishedData.model_fields},
                ),
            )
        )
    await services.repo.items.insert_one(
        outbox.new_document(doc, events, services.outbox.lease_seconds)
    )
    await services.outbox.publish_now(content_id, events)
    return doc
