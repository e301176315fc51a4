"""The api dies right after a click batch is durable: the worker's relay publishes it, once."""

from __future__ import annotations

import httpx
import pytest
from pymongo import AsyncMongoClient
from share_stack import TopicTail

from support import MONGODB_URL, ServiceProcess, eventually, free_port, ref, token


async def test_clicks_written_before_a_crash_are_published_by_the_relay(tmp_path) -> None:
    suffix = ref("")
    port = free_port()
    env = {
        "SHARE_DATABASE": f"chorus_share_crash_{suffix}",
        "SHARE_CONSUMER_GROUP": f"share-crash-{suffix}",
        "SHARE_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
        # The relay may take over one second after the write.
        "SHARE_CLICK_LEASE_SECONDS": "1",
    }
    doomed = ServiceProcess(
        "share", "api", env={**env, "CHORUS_FAULTS": "after-click-write"}, port=port
    ).start(tmp_path)
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
                await http.get(
                    f"/l/{shared.json()['short_code']}",
                    headers={"User-Agent": "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0"},
                )
        assert doomed.proc is not None
        assert doomed.proc.wait(10) == 137, "the fault point should have killed the api"

        share_id = shared.json()["id"]
        batches = client[env["SHARE_DATABASE"]]["click_batches"]

        async def pending() -> int:
            return await batches.count_documents({"_outbox_n": {"$gt": 0}})

        await eventually(pending, lambda n: n == 0, timeout=60)
        events = [r for r in await tail.poll(3) if r["data"]["share_id"] == share_id]
        assert len(events) == 1
        assert events[0]["data"]["kind"] == "click"
    finally:
        await tail.stop()
        await client.drop_database(env["SHARE_DATABASE"])
        await client.close()
        doomed.stop()
        worker.stop()
