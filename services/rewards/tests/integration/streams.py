"""Helpers for rewards' integration tests: isolated workers and event streams."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from aiokafka import AIOKafkaConsumer, TopicPartition

import support
from contracts import (
    EngagementKind,
    EngagementObserved,
    EngagementObservedData,
    EngagementSource,
    Network,
    PostShared,
    PostSharedData,
    ShareMethod,
)
from rewards.bootstrap import CONSUMES
from support import KAFKA

BASE = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


async def end_offsets(topics: list[str]) -> dict[TopicPartition, int]:
    """Where each partition of `topics` ends now."""
    # A consumer learns a topic's partitions only for topics it subscribes to.
    consumer = AIOKafkaConsumer(*topics, bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        partitions = [
            TopicPartition(t, p) for t in topics for p in consumer.partitions_for_topic(t) or ()
        ]
        return await consumer.end_offsets(partitions)
    finally:
        await consumer.stop()


async def start_group_at_end(group: str, topics: list[str] = CONSUMES) -> None:
    """A fresh worker reads only what the test sends, not everything other tests sent."""
    await support.start_group_at_end(group, topics)


def share(tenant: str, employee: str, at: datetime, content: str | None = None) -> PostShared:
    share_id = uuid.uuid4().hex
    return PostShared.create(
        tenant_id=tenant,
        subject=employee,
        data=PostSharedData(
            share_id=share_id,
            content_id=content or uuid.uuid4().hex,
            employee_id=employee,
            network=Network.LINKEDIN,
            short_code=share_id[:8],
            tracked_url=f"http://127.0.0.1/l/{share_id[:8]}",
            shared_at=at,
            method=ShareMethod.INTENT,
        ),
    )


def engagement(
    tenant: str,
    employee: str,
    at: datetime,
    kind: EngagementKind,
    unique: bool = True,
    visitor: str | None = "visitor-0001",
) -> EngagementObserved:
    return EngagementObserved.create(
        tenant_id=tenant,
        subject=employee,
        data=EngagementObservedData(
            engagement_id=uuid.uuid4().hex,
            share_id="s-" + employee,
            employee_id=employee,
            network=Network.LINKEDIN,
            kind=kind,
            observed_at=at,
            source=EngagementSource.REDIRECT,
            unique=unique,
            visitor=visitor,
        ),
    )


def day(n: int) -> datetime:
    return BASE + timedelta(days=n)
