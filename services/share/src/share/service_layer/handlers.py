"""Use cases of sharing."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from chassis import outbox
from chassis.auth import Principal
from chassis.consumer import Consumed
from chassis.errors import Problem
from chassis.ids import new_id, short_code
from chassis.telemetry import current_traceparent
from contracts import ContentPublished, Network, PostShared, PostSharedData, ShareMethod
from share.adapters.mongo import ShareRepository
from share.domain.links import can_share, tracked_url


@dataclass
class Services:
    repo: ShareRepository
    outbox: outbox.Outbox
    public_base_url: str


async def on_content_published(services: Services, batch: list[Consumed[ContentPublished]]) -> None:
    """Keep a local copy of what can be shared (idempotent: a replay rewrites the same)."""
    writes = []
    for item in batch:
        event, data = item.event, item.event.data
        writes.append(
            UpdateOne(
                {"_id": f"{event.tenantid}:{data.content_id}"},
                {
                    "$set": {
                        "tenant": event.tenantid,
                        "content_id": data.content_id,
                        "title": data.title,
                        "kind": data.kind.value,
                        "url": str(data.url) if data.url else None,
                        "campaign_id": data.campaign_id,
                        "audience": data.audience.model_dump(),
                        "suggested_texts": {k.value: v for k, v in data.suggested_texts.items()},
                        "publish_at": data.publish_at,
                        "expires_at": data.expires_at,
                        "event_id": event.id,
                    }
                },
                upsert=True,
            )
        )
    await services.repo.content.bulk_write(writes, ordered=True)


async def share(
    services: Services, user: Principal, content_id: str | None, network: Network
) -> dict[str, Any]:
    """One tap: a share with its own short link, announced as PostShared."""
    now = datetime.now(UTC)
    content = None
    if content_id is not None:
        content = await services.repo.shareable(user.tenant, content_id)
        if reason := can_share(content, now):
            raise Problem(404 if content is None else 409, "Cannot share", reason)
    share_id = new_id()
    for _ in range(5):
        code = short_code()
        doc = {
            "_id": share_id,
            "tenant": user.tenant,
            "employee_id": user.employee_id,
            "content_id": content_id,
            "network": network.value,
            "short_code": code,
            "target_url": content.get("url") if content else None,
            "shared_at": now,
        }
        event = PostShared.create(
            tenant_id=user.tenant,
            subject=share_id,
            traceparent=current_traceparent(),
            data=PostSharedData(
                share_id=share_id,
                content_id=content_id,
                employee_id=user.employee_id,
                employee_groups=sorted(user.groups),
                network=network,
                short_code=code,
                tracked_url=tracked_url(services.public_base_url, code),
                shared_at=now,
                method=ShareMethod.INTENT,
                campaign_id=content.get("campaign_id") if content else None,
                content_kind=content.get("kind") if content else None,
            ),
        )
        try:
            await services.repo.shares.insert_one(
                outbox.new_document(doc, [event], services.outbox.lease_seconds)
            )
        except DuplicateKeyError:
            continue  # a short code collision: draw another
        await services.outbox.publish_now(share_id, [event])
        return doc | {"tracked_url": event.data.tracked_url}
    raise Problem(503, "Try again", "could not allocate a short code")
