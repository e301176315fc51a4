"""The loops that wait out failures: the outbox relay, background loops, topic creation."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import pytest
import stamina
from aiokafka.errors import KafkaConnectionError

from chassis import kafka
from chassis.kafka import TopicCreationFailed, ensure_topics
from chassis.outbox import run_relay
from chassis.process import _supervise


@pytest.fixture(autouse=True)
def no_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=50, cap=True):
        yield


class FlakyOutbox:
    """An outbox whose relay fails `failures` times (Kafka away), then publishes `pending`."""

    def __init__(self, name: str, failures: int, pending: int) -> None:
        self.collection = SimpleNamespace(name=name)
        self.failures = failures
        self.pending = pending
        self.rounds = 0
        self.drained = asyncio.Event()

    async def relay_once(self, limit: int = 100) -> int:
        self.rounds += 1
        if self.failures > 0:
            self.failures -= 1
            raise KafkaConnectionError("no broker")
        published, self.pending = self.pending, 0
        if published == 0:
            self.drained.set()
        return published

    async def pending_documents(self) -> int:
        return self.pending


async def test_the_relay_outlasts_an_outage_and_relays_every_outbox() -> None:
    away = FlakyOutbox("shares", failures=5, pending=3)
    fine = FlakyOutbox("advocates", failures=0, pending=2)
    relay = asyncio.create_task(run_relay([away, fine], interval=0.01))  # type: ignore[list-item]
    try:
        await asyncio.wait_for(asyncio.gather(away.drained.wait(), fine.drained.wait()), 5)
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)
    assert away.pending == fine.pending == 0
    # The outbox that worked kept being relayed while the other one failed.
    assert fine.rounds >= 6


async def test_a_loop_that_keeps_failing_is_restarted_until_it_succeeds() -> None:
    runs = 0

    async def loop() -> None:
        nonlocal runs
        runs += 1
        if runs < 4:
            raise RuntimeError("schedule store unreachable")

    await asyncio.wait_for(_supervise("schedules", loop), 5)
    assert runs == 4


async def test_a_loop_that_ran_for_a_while_starts_its_waits_over() -> None:
    runs = 0

    async def loop() -> None:
        nonlocal runs
        runs += 1
        if runs == 1:
            await asyncio.sleep(0.05)
            raise RuntimeError("after a long run")
        if runs < 4:
            raise RuntimeError("quickly")

    # Testing mode allows 3 attempts per series of quick failures: the long first run
    # does not count towards them, so two quick failures later the loop runs a fourth time.
    with stamina.set_testing(True, attempts=3, cap=True):
        await asyncio.wait_for(_supervise("digests", loop, wait_max=0.04), 5)
    assert runs == 4


async def test_cancelling_a_supervised_loop_stops_it() -> None:
    async def forever() -> None:
        await asyncio.sleep(3600)

    task = asyncio.create_task(_supervise("forever", forever))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


class FakeAdmin:
    """Kafka's admin client: unreachable `down` times, then answering."""

    down = 0
    refuse = False
    created: list[str] = []

    def __init__(self, **kwargs: Any) -> None:
        pass

    async def start(self) -> None:
        if FakeAdmin.down > 0:
            FakeAdmin.down -= 1
            raise KafkaConnectionError("Unable to bootstrap from 127.0.0.1:9092")

    async def list_topics(self) -> list[str]:
        return []

    async def create_topics(self, topics: list[Any]) -> Any:
        FakeAdmin.created += [t.name for t in topics]
        code = 37 if FakeAdmin.refuse else 0
        return SimpleNamespace(topic_errors=[(t.name, code) for t in topics])

    async def close(self) -> None:
        pass


@pytest.fixture
def admin(monkeypatch: pytest.MonkeyPatch) -> type[FakeAdmin]:
    monkeypatch.setattr(kafka, "AIOKafkaAdminClient", FakeAdmin)
    FakeAdmin.down, FakeAdmin.refuse, FakeAdmin.created = 0, False, []
    return FakeAdmin


async def test_topics_are_created_once_kafka_answers(admin: type[FakeAdmin]) -> None:
    admin.down = 3
    await ensure_topics("k:9092", ["chorus.post-shared.v1"], partitions=6, replication=1)
    assert admin.created == ["chorus.post-shared.v1", "chorus.post-shared.v1.dlq"]


async def test_a_refused_topic_is_not_retried(admin: type[FakeAdmin]) -> None:
    admin.refuse = True
    with pytest.raises(TopicCreationFailed, match="error code 37"):
        await ensure_topics("k:9092", ["chorus.post-shared.v1"], partitions=6, replication=1)
    assert len(admin.created) == 2


async def test_kafka_away_for_longer_than_the_wait_fails(admin: type[FakeAdmin]) -> None:
    admin.down = 1000
    with stamina.set_testing(False), pytest.raises(KafkaConnectionError):
        await ensure_topics(
            "k:9092", ["chorus.post-shared.v1"], partitions=6, replication=1, wait_seconds=0.3
        )
