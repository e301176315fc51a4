"""The api dies between its database write and its publish: the event still goes out, once."""

from __future__ import annotations

import json

import httpx
import pytest
from pymongo import AsyncMongoClient

from support import MONGODB_URL, ServiceProcess, eventually, read_topic, ref, token


def _subject(record) -> str | None:
    try:
        return json.loads(record.value).get("subject")
    except ValueError:
        return None


async def test_event_is_published_exactly_once_after_a_crash_before_publish(
    platform, tmp_path
) -> None:
    database = platform.env("content")["CONTENT_DATABASE"]
    doomed = ServiceProcess(
        "content",
        "api",
        env={
            "CONTENT_DATABASE": database,
            "CHORUS_FAULTS": "after-outbox-write",
            # The relay of the platform's content worker may take over after one second.
            "CHORUS_OUTBOX_LEASE_SECONDS": "1",
        },
    ).start(tmp_path)
    try:
        doomed.wait_healthy()
        tenant = ref("crash")
        title = ref("Crash test item ")
        with pytest.raises(httpx.TransportError):
            httpx.post(
                f"{doomed.url}/api/v1/content",
                headers=token(tenant, roles=("curator",)),
                json={"title": title, "kind": "internal"},
                timeout=10,
            )
        assert doomed.proc is not None
        assert doomed.proc.wait(10) == 137, "the fault point should have killed the api"
    finally:
        doomed.stop()

    # The write is durable, with its event still staged.
    client: AsyncMongoClient = AsyncMongoClient(MONGODB_URL)
    try:
        item = await client[database]["items"].find_one({"tenant": tenant})
        assert item is not None and item["title"] == title
        assert item["_outbox_n"] == 1

        # The worker's relay publishes it ...
        def ours(records: list) -> list:
            # The topic also holds other tests' records, poison ones among them.
            return [
                r for r in records if item["_id"].encode() in r.value and _subject(r) == item["_id"]
            ]

        records = await read_topic("chorus.content-published.v1", until=lambda rs: bool(ours(rs)))
        assert len(ours(records)) == 1

        # ... clears the staged copy, and publishes it no second time.
        await eventually(
            lambda: client[database]["items"].find_one({"_id": item["_id"]}),
            lambda doc: doc["_outbox_n"] == 0 and not doc["_outbox"],
        )
        records = await read_topic("chorus.content-published.v1", until=lambda rs: False, timeout=3)
        assert len(ours(records)) == 1
    finally:
        await client.close()
