"""The api dies right after a click is durable, before answering: its event still goes out.

Durable means acknowledged by Kafka, or, when Kafka is slow, spooled to MongoDB; then the
worker's relay publishes it once the api's lease has run out. Either way the worker decides
the click and publishes its EngagementObserved, once.
"""

from __future__ import annotations

import httpx
import pytest
from pymongo import AsyncMongoClient
from share_stack import TopicTail

from support import MONGODB_URL, ServiceProcess, eventually, free_port, ref, token

BROWSER = "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"


@pytest.mark.parametrize("path", ["kafka", "spool"])
async def test_a_click_made_durable_before_a_crash_is_published(tmp_path, path: str) -> None:
    suffix = ref("")
    links_port = free_port()
    env = {
        "SHARE_DATABASE": f"chorus_share_crash_{suffix}",
        "SHARE_CONSUMER_GROUP": f"share-crash-{suffix}",
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{links_port}",
        # The relay may take over one second after the write.
        "SHARE_CLICK_LEASE_SECONDS": "1",
    }
    doomed_env = {**env, "CHORUS_FAULTS": "after-click-write"}
    if path == "spool":
        # Store first: the click is written to MongoDB, then published from there.
        doomed_env["SHARE_CLICK_ACK_TIMEOUT_SECONDS"] = "0"
    doomed = ServiceProcess("share", "api", env=doomed_env, links_port=links_port)
    doomed.start(tmp_path)
    worker = ServiceProcess("share", "worker", env=env).start(tmp_path)
    tail = await TopicTail("chorus.engagement-observed.v1").start()
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        doomed.wait_healthy()
        worker.wait_healthy()
        me = token(ref("acme"), "e1")
        async with httpx.AsyncClient(base_url=doomed.url, timeout=10) as http:
            assert (
                await http.post("/api/v1/advocates/me", headers=me, json={"accept": True})
            ).status_code == 201
            shared = await http.post(
                "/api/v1/shares",
                headers=me,
                json={"network": "x", "url": "https://example.com/post"},
            )
            assert shared.status_code == 201, shared.text
            with pytest.raises(httpx.TransportError):
                await http.get(shared.json()["tracked_url"], headers={"User-Agent": BROWSER})
        assert doomed.proc is not None
        assert doomed.proc.wait(10) == 137, "the fault point should have killed the api"

        share_id = shared.json()["id"]
        batches = client[env["SHARE_DATABASE"]]["click_batches"]

        async def pending() -> int:
            return await batches.count_documents({"_outbox_n": {"$gt": 0}})

        await eventually(pending, lambda n: n == 0, timeout=60)
        # The worker decides the click (unique or not) and publishes its EngagementObserved;
        # its consumer group is new, so it reads the topic from the start first.
        events = await tail.until(
            lambda rs: [r for r in rs if r["data"]["share_id"] == share_id], 1, timeout=30
        )
        assert events, "the click's event was lost"
        assert all(e["data"]["kind"] == "click" for e in events)
        assert len(events) == 1
        if path == "kafka":
            assert await batches.count_documents({}) == 0, "nothing should have been spooled"
    finally:
        await tail.stop()
        await client.close()
        doomed.stop()
        worker.stop()
