"""Kafka's access control: each service signs in as its own user and may write, read and
join only what `contracts.catalogue.access` allows it (the same ACLs as the Strimzi
KafkaUsers of production).

A Kafka of this module's own, from the devstack, with its SASL listener (SCRAM-SHA-512)
and the authorizer; the ACLs are made by `deploy/local/kafka_access.py` over the plain
listener, which the tests also use to look. Then:
- every service's user writes its own topics, and is refused every other service's topic,
  the topics it does not read and the consumer groups of other services;
- the share api and the rewards worker run as their users: a share is confirmed and
  earns its points, through the ACLs alone.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import kafka_access
import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.errors import GroupAuthorizationFailedError, TopicAuthorizationFailedError

from chassis.kafka import ensure_topics
from contracts import ALL_EVENTS, dlq_topic, topics
from contracts.catalogue import service_names
from contracts.catalogue.access import reads, user_name, writes
from stack.servers import KafkaServer, local_kafka_users
from support import ServiceProcess, free_port, ref, token

EVERY_TOPIC = sorted({t for e in ALL_EVENTS for t in (e.topic, dlq_topic(e.topic))})


class SaslKafka:
    def __init__(self, server: KafkaServer, users: dict[str, str]) -> None:
        self.server = server
        self.users = users

    def options(self, service: str) -> dict[str, Any]:
        user = user_name(service)
        return {
            "bootstrap_servers": self.server.sasl_bootstrap_servers,
            "security_protocol": "SASL_PLAINTEXT",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": user,
            "sasl_plain_password": self.users[user],
        }


@pytest.fixture(scope="module")
async def kafka(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[SaslKafka]:
    users = local_kafka_users()
    server = KafkaServer(
        port=free_port(),
        controller_port=free_port(),
        sasl_port=free_port(),
        data_dir=tmp_path_factory.mktemp("kafka-sasl"),
        scram_users=users,
    )
    await asyncio.to_thread(server.start)
    try:
        await ensure_topics(server.bootstrap_servers, EVERY_TOPIC, partitions=3, replication=1)
        await kafka_access.grant(server.bootstrap_servers)
        yield SaslKafka(server, users)
    finally:
        await asyncio.to_thread(server.stop)


async def _write(kafka: SaslKafka, service: str, topic: str) -> None:
    producer = AIOKafkaProducer(
        acks="all", enable_idempotence=True, request_timeout_ms=10_000, **kafka.options(service)
    )
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"{}", key=b"access-test")
    finally:
        await producer.stop()


async def _read(kafka: SaslKafka, service: str, topic: str, group: str) -> None:
    consumer = AIOKafkaConsumer(
        topic, group_id=group, auto_offset_reset="earliest", **kafka.options(service)
    )
    await consumer.start()
    try:
        await consumer.getmany(timeout_ms=2000)
        # A refused topic or group surfaces at the latest when the position is committed.
        await consumer.commit({TopicPartition(topic, 0): 0})
    finally:
        await consumer.stop()


@pytest.mark.parametrize("service", service_names())
async def test_a_service_writes_reads_and_joins_only_what_is_its_own(
    kafka: SaslKafka, service: str
) -> None:
    own = writes(service)
    foreign = [t for t in EVERY_TOPIC if t not in own]
    await _write(kafka, service, own[0])
    # Another service's event (points, opt-outs, shares with their redirect targets).
    for topic in (foreign[0], foreign[-1], *(t for t in foreign if t == topics.POINTS_AWARDED)):
        with pytest.raises(TopicAuthorizationFailedError):
            await _write(kafka, service, topic)

    other = next(s for s in service_names() if s != service)
    readable = reads(service)
    if readable:
        await _read(kafka, service, readable[0], f"{service}-access-{ref('')}")
        with pytest.raises(GroupAuthorizationFailedError):
            await _read(kafka, service, readable[0], f"{other}-access-{ref('')}")
    unreadable = [t for t in EVERY_TOPIC if t not in readable]
    with pytest.raises(TopicAuthorizationFailedError):
        await _read(kafka, service, unreadable[0], f"{service}-access-{ref('')}")


async def test_the_services_run_as_their_own_users(kafka: SaslKafka, tmp_path: Path) -> None:
    suffix, tenant = ref(""), ref("access")
    share_api = ServiceProcess("share", "api")
    rewards = ServiceProcess("rewards", "worker")
    for process in (share_api, rewards):
        service = process.service
        process.env = {
            **kafka_access.sasl_environment(
                service, kafka.server.sasl_bootstrap_servers, kafka.users
            ),
            f"{service.upper()}_DATABASE": f"chorus_{service}_access_{suffix}",
            f"{service.upper()}_CONSUMER_GROUP": f"{service}-access-{suffix}",
            "SHARE_PUBLIC_BASE_URL": share_api.links_url,
        }
    try:
        for process in (share_api, rewards):
            process.start(tmp_path)
        for process in (share_api, rewards):
            await asyncio.to_thread(process.wait_healthy, 90)

        employee = token(tenant, "e1")
        async with httpx.AsyncClient(base_url=share_api.url, timeout=30) as http:
            joined = await http.post(
                "/api/v1/advocates/me", headers=employee, json={"accept": True}
            )
            assert joined.status_code == 201, joined.text
            shared = await http.post(
                "/api/v1/shares",
                headers=employee,
                json={"network": "x", "url": f"https://example.com/post/{ref('')}"},
            )
            assert shared.status_code == 201, shared.text

        # Read over the plain listener: the share's points, awarded by the rewards worker.
        awards = await _records(kafka, topics.POINTS_AWARDED, tenant, timeout=60)
        assert [a["data"]["points"] for a in awards] == [10], awards
    finally:
        for process in (share_api, rewards):
            process.stop()


async def _records(kafka: SaslKafka, topic: str, tenant: str, timeout: float) -> list[Any]:
    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka.server.bootstrap_servers,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    found: list[Any] = []
    try:
        deadline = time.monotonic() + timeout
        while not found and time.monotonic() < deadline:
            batch = await consumer.getmany(timeout_ms=500)
            for records in batch.values():
                for record in records:
                    event = json.loads(record.value)
                    if event.get("tenantid") == tenant:
                        found.append(event)
        return found
    finally:
        await consumer.stop()
