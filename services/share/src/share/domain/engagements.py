"""EngagementObserved for a stored share: one place that maps a share onto the event."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from contracts import (
    EngagementKind,
    EngagementObserved,
    EngagementObservedData,
    EngagementSource,
)


def engagement_on_share(
    share: dict[str, Any],
    *,
    event_id: str,
    engagement_id: str,
    kind: EngagementKind,
    source: EngagementSource,
    observed_at: datetime,
    count: int = 1,
    visitor: str | None = None,
    unique: bool = False,
    traceparent: str | None = None,
) -> EngagementObserved:
    """The event for an engagement with `share`, carrying what rewards and metrics need."""
    return EngagementObserved.create(
        tenant_id=share["tenant"],
        subject=share["_id"],
        event_id=event_id,
        time=observed_at,
        traceparent=traceparent,
        data=EngagementObservedData(
            engagement_id=engagement_id,
            share_id=share["_id"],
            content_id=share.get("content_id"),
            employee_id=share["employee_id"],
            network=share["network"],
            kind=kind,
            count=count,
            observed_at=observed_at,
            source=source,
            visitor=visitor,
            unique=unique,
            campaign_id=share.get("campaign_id"),
            content_kind=share.get("content_kind"),
        ),
    )
