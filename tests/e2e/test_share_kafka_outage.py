"""Kafka stops for 10 s while 1,000 people click: every click still becomes one event."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import httpx
import pytest
from aiokafka import AIOKafkaConsumer

from stack.servers import KafkaServer
from support import ServiceProcess, free_port, ref, token

pytestmark = pytest.mark.long

CLICKS = 1000
OUTAGE_SECONDS = 10.0
BROWSER = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0"


async def _read_all(bootstrap: str, topic: str, want: int, timeout: float) -> list[dict]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        group_id=ref("outage-reader-"),
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    await consumer.start()
    try:
        records: list[dict] = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(records) < want:
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(json.loads(r.value) for r in items)
        # Linger a little: a duplicate would show up now.
        end = time.monotonic() + 5
        while time.monotonic() < end:
            batch = await consumer.getmany(timeout_ms=500)
            for items in batch.values():
                records.extend(json.loads(r.value) for r in items)
        return records
    finally:
        await consumer.stop()


@pytest.mark.infra
async def test_clicks_during_a_kafka_outage_are_all_published_once(tmp_path) -> None:
    # A Kafka of this test's own, so stopping it disturbs no other test.
    kafka = KafkaServer(port=free_port(), controller_port=free_port(), data_dir=tmp_path / "kafka")
    kafka.start()
    suffix = ref("")
    links_port = free_port()
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": kafka.bootstrap_servers,
        "SHARE_DATABASE": f"chorus_share_outage_{suffix}",
        "SHARE_CONSUMER_GROUP": f"share-outage-{suffix}",
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{links_port}",
    }
    api = ServiceProcess("share", "api", env=env, links_port=links_port).start(tmp_path)
    worker = ServiceProcess("share", "worker", env=env).start(tmp_path)
    try:
        api.wait_healthy(timeout=90)
        worker.wait_healthy(timeout=90)
        tenant = ref("acme")
        me = token(tenant, "e1")
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            joined = await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            assert joined.status_code == 201, joined.text
            shared = await http.post(
                "/api/v1/shares",
                headers=me,
                # On the default link domains: the short link redirects.
                json={
                    "network": "linkedin",
                    "url": "https://www.linkedin.com/pulse/post",
                    "text": "Mine",
                },
            )
            assert shared.status_code == 201, shared.text
            path = f"{api.links_url}/l/{shared.json()['short_code']}"

            await asyncio.to_thread(kafka.stop)
            stopped_at = time.monotonic()
            gate = asyncio.Semaphore(50)

            async def click(n: int) -> int:
                # Spread over the outage: the clicks arrive while Kafka is away.
                await asyncio.sleep(n * (OUTAGE_SECONDS * 0.8) / CLICKS)
                async with gate:
                    response = await http.get(path, headers={"User-Agent": f"{BROWSER} n/{n}"})
                return response.status_code

            statuses = await asyncio.gather(*(click(n) for n in range(CLICKS)))
            assert Counter(statuses) == {302: CLICKS}, Counter(statuses)
            await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - stopped_at)))
            await asyncio.to_thread(kafka.start)

        records = await _read_all(
            kafka.bootstrap_servers, "chorus.engagement-observed.v1", CLICKS, timeout=120
        )
        clicks = [r for r in records if r["tenantid"] == tenant and r["data"]["kind"] == "click"]
        ids = Counter(r["id"] for r in clicks)
        assert len(ids) == CLICKS, f"{len(ids)} distinct click events of {CLICKS}"
        assert max(ids.values()) == 1, "an event arrived twice"
        assert len({r["data"]["visitor"] for r in clicks}) == CLICKS
    finally:
        api.stop()
        worker.stop()
        kafka.stop()
