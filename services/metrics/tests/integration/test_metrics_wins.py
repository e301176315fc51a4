"""Wins told back: metrics drafts the milestones a program passes, only its team and its
appointed storytellers see and decide them, a told win is published once as WinTold, and
a decided milestone is not drafted again."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaConsumer, TopicPartition
from metrics_program import publish, start_metrics, wait_for

from contracts import (
    ContentPublished,
    ContentPublishedData,
    EngagementObserved,
    EngagementObservedData,
    PostShared,
    PostSharedData,
)
from support import KAFKA, ref, token


def _program(tenant: str, at: datetime) -> list[Any]:
    job = ContentPublished.create(
        tenant_id=tenant,
        subject="job1",
        data=ContentPublishedData(
            content_id="job1",
            title="Data engineer, Oslo",
            kind="job",
            publish_at=at,
            published_by="cur",
        ),
    )
    events: list[Any] = [job]
    for n in range(100):
        share = f"{tenant}-s{n}"
        events.append(
            PostShared.create(
                tenant_id=tenant,
                subject=share,
                data=PostSharedData(
                    share_id=share,
                    content_id="job1",
                    employee_id=f"e{n % 7}",
                    network="linkedin",
                    short_code=f"w{n:07d}",
                    tracked_url=f"https://go.example.com/l/w{n:07d}",
                    shared_at=at,
                    audience_size=150,
                    method="intent",
                    content_kind="job",
                ),
            )
        )
    for n in range(12):
        events.append(
            EngagementObserved.create(
                tenant_id=tenant,
                subject=f"{tenant}-s{n}",
                data=EngagementObservedData(
                    engagement_id=f"{tenant}-a{n}",
                    share_id=f"{tenant}-s{n}",
                    content_id="job1",
                    employee_id=f"e{n % 7}",
                    network="linkedin",
                    kind="conversion",
                    observed_at=at + timedelta(minutes=n),
                    source="webhook",
                    content_kind="job",
                ),
            )
        )
    return events


async def _told(tenant: str, start: dict[TopicPartition, int], seconds: float) -> list[Any]:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign(list(start))
        for tp, offset in start.items():
            consumer.seek(tp, offset)
        found: list[Any] = []
        deadline = asyncio.get_running_loop().time() + seconds
        while asyncio.get_running_loop().time() < deadline:
            batch = await consumer.getmany(timeout_ms=300)
            for records in batch.values():
                found += [json.loads(r.value) for r in records]
        return [f for f in found if f["tenantid"] == tenant]
    finally:
        await consumer.stop()


async def _ends(topic: str) -> dict[TopicPartition, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=KAFKA, enable_auto_commit=False)
    await consumer.start()
    try:
        await consumer._client.force_metadata_update()
        partitions = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or []]
        return dict(await consumer.end_offsets(partitions))
    finally:
        await consumer.stop()


@pytest.mark.timeout(600)
async def test_milestones_are_drafted_told_once_and_never_drafted_again(tmp_path) -> None:
    tenant = ref("wins")
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    processes = await start_metrics(tmp_path, ref(""))
    api = processes["api"].url
    curator = token(tenant, "cur", roles=("curator",))
    admin = token(tenant, "adm", roles=("admin",))
    teller = token(tenant, "tove")
    try:
        async with httpx.AsyncClient(base_url=f"{api}/api/v1", timeout=60) as http:
            # Before she is appointed, a storyteller is an employee like any other.
            assert (await http.get("/wins", headers=teller)).status_code == 403
            settings = await http.put("/settings", json={"storytellers": ["tove"]}, headers=admin)
            assert settings.status_code == 200, settings.text
            await publish(_program(tenant, at))

            async def drafts() -> dict[str, Any]:
                reply = await http.get("/wins", headers=teller)
                assert reply.status_code == 200, reply.text
                return {d["id"]: d for d in reply.json()["drafts"]}

            month = at.strftime("%Y-%m")
            found = await wait_for(
                drafts, lambda got: {"reach-10000", "shares-100"} <= set(got) and len(got) == 3
            )
            assert found[f"applications-{month}-job1"]["values"] == {
                "month": month,
                "content": "job1",
                "title": "Data engineer, Oslo",
                "applications": 12,
            }
            assert found["reach-10000"]["values"] == {"reach": 10000}

            topic = "chorus.win-told.v1"
            start = await _ends(topic)
            told = await http.post(
                "/wins/reach-10000/tell",
                json={"text": "  Our posts have now reached more than 10,000 people!  "},
                headers=teller,
            )
            assert told.status_code == 201, told.text
            assert told.json()["text"] == "Our posts have now reached more than 10,000 people!"
            again = await http.post("/wins/reach-10000/tell", json={"text": "x"}, headers=curator)
            assert again.status_code == 409
            dropped = await http.post("/wins/shares-100/discard", headers=curator)
            assert dropped.status_code == 200 and dropped.json()["status"] == "discarded"

            # Clear errors, each naming what is wrong.
            blank = await http.post(
                f"/wins/applications-{month}-job1/tell", json={"text": "   "}, headers=teller
            )
            assert blank.status_code == 422 and "text" in blank.text
            unknown = await http.post("/wins/reach-999/tell", json={"text": "x"}, headers=teller)
            assert unknown.status_code == 404 and "win_id" in unknown.text
            other = await http.get("/wins", headers=token(tenant, "e1"))
            assert other.status_code == 403

            left = await drafts()
            assert set(left) == {f"applications-{month}-job1"}
            decided = (await http.get("/wins", headers=curator)).json()["decided"]
            assert {(d["id"], d["status"]) for d in decided} == {
                ("reach-10000", "told"),
                ("shares-100", "discarded"),
            }
            published = await _told(tenant, start, 5)
            assert [p["data"]["win_id"] for p in published] == ["reach-10000"]
            assert published[0]["data"]["told_by"] == "tove"
            assert published[0]["data"]["milestone"] == "reach"
    finally:
        for process in processes.values():
            process.stop()
