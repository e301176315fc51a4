"""A poison record goes to `<topic>.dlq` with the reason; the next valid one is processed."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import httpx
import pytest

from contracts import (
    ContentPublished,
    ContentPublishedData,
    EngagementObserved,
    EngagementObservedData,
    PointsAwarded,
    PointsAwardedData,
    PostShared,
    PostSharedData,
)
from contracts.topics import DLQ_ERROR_HEADER, DLQ_SOURCE_HEADER
from support import eventually, produce, read_topic, ref, token

NOW = datetime.now(UTC)


def _valid(event_class: type, tenant: str):
    data = {
        ContentPublished: lambda: ContentPublishedData(
            content_id=ref("c"), title="t", kind="article", publish_at=NOW, published_by="cur"
        ),
        PostShared: lambda: PostSharedData(
            share_id=ref("s"),
            content_id=None,
            employee_id="e1",
            network="x",
            short_code="abcdef12",
            tracked_url="https://go.example.com/l/abcdef12",
            shared_at=NOW,
            method="intent",
        ),
        EngagementObserved: lambda: EngagementObservedData(
            engagement_id=ref("g"),
            share_id="s1",
            employee_id="e1",
            network="x",
            kind="click",
            observed_at=NOW,
            source="redirect",
            unique=True,
        ),
        PointsAwarded: lambda: PointsAwardedData(
            award_id=ref("a"),
            employee_id="e1",
            points=7,
            rule_id="r",
            rule_version=1,
            reason="test",
            source_event_id="x",
            source_event_type="t",
            awarded_at=NOW,
        ),
    }[event_class]()
    return event_class.create(tenant_id=tenant, subject="s", data=data)


POISONS = {
    "not json": b"{{{ definitely not json",
    "wrong shape": json.dumps({"specversion": "1.0", "id": "x"}).encode(),
}


@pytest.mark.parametrize(
    "event_class", [ContentPublished, PostShared, EngagementObserved, PointsAwarded]
)
@pytest.mark.parametrize("poison", list(POISONS))
async def test_poison_goes_to_dead_letters_and_the_next_event_counts(
    platform, event_class, poison
) -> None:
    tenant = ref("dlq")
    marker = ref("poison").encode()
    body = (
        POISONS[poison] + b" " + marker
        if poison == "not json"
        else POISONS[poison].replace(b'"x"', b'"' + marker + b'"')
    )
    await produce(event_class.topic, body, key=f"{tenant}:e1".encode())
    valid = _valid(event_class, tenant)
    await produce(event_class.topic, valid.to_json(), key=valid.partition_key().encode())

    dead = await read_topic(
        event_class.topic + ".dlq",
        until=lambda records: any(marker in (r.value or b"") for r in records),
    )
    record = next(r for r in dead if marker in (r.value or b""))
    headers = {k: v.decode() for k, v in record.headers}
    assert headers[DLQ_ERROR_HEADER], headers
    assert headers[DLQ_SOURCE_HEADER].startswith(event_class.topic + "/")
    assert headers["chorus-dlq-consumer"].split("-")[0] in {
        "content",
        "share",
        "rewards",
        "metrics",
    }

    expected = {
        ContentPublished: ("content_published", 1),
        PostShared: ("shares", 1),
        EngagementObserved: ("clicks", 1),
        PointsAwarded: ("points", 7),
    }[event_class]

    async def figures() -> dict:
        response = await httpx.AsyncClient(timeout=5).get(
            f"{platform.url('metrics')}/api/v1/summary", headers=token(tenant)
        )
        return response.json()["figures"]

    await eventually(figures, lambda f: f.get(expected[0]) == expected[1])
