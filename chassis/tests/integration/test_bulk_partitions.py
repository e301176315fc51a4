"""The bulk producer places keys by the topic's current partitions, against the real Kafka."""

from __future__ import annotations

from aiokafka.admin import AIOKafkaAdminClient, NewPartitions, NewTopic
from aiokafka.partitioner import DefaultPartitioner

from chassis.bulk import BulkProducer
from support import KAFKA, eventually, read_topic, ref

KEYS = [f"tenant:employee-{n}".encode() for n in range(40)]


async def test_keys_follow_partitions_added_to_the_topic() -> None:
    topic = ref("chorus.test-bulk-partitions.")
    admin = AIOKafkaAdminClient(bootstrap_servers=KAFKA)
    await admin.start()
    producer = BulkProducer(KAFKA, ref("test-bulk-"), ack_timeout=10.0, metadata_max_age=0.5)
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=1, replication_factor=1)])
        await producer.start()
        for key in KEYS:
            assert await producer.send(topic, key, b"before") is None

        await admin.create_partitions({topic: NewPartitions(total_count=4)})
        await eventually(
            lambda: _partitions_of(producer, topic), lambda known: known == [0, 1, 2, 3]
        )
        for key in KEYS:
            assert await producer.send(topic, key, b"after") is None

        records = await read_topic(topic, lambda got: len(got) >= 2 * len(KEYS))
    finally:
        await producer.stop()
        await admin.close()

    placed = {(r.key, r.value): r.partition for r in records}
    expected = DefaultPartitioner()
    for key in KEYS:
        assert placed[(key, b"before")] == 0
        assert placed[(key, b"after")] == expected(key, [0, 1, 2, 3], [0, 1, 2, 3])
    assert {placed[(key, b"after")] for key in KEYS} == {0, 1, 2, 3}


async def _partitions_of(producer: BulkProducer, topic: str) -> list[int]:
    return producer._partitions.get(topic, [])
