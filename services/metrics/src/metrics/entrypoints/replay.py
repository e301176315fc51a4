"""Rebuild every read model from the topics into a fresh generation, then swap it in.

`python -m metrics replay` reads every topic from the beginning; `--since <RFC 3339>` copies
the facts of earlier events from the live generation and reads only the records from then
on. The api and the worker keep serving the live generation while the new one is built.

The swap is safe with a worker running: facts are keyed by event, so writing one twice
changes nothing, and the worker writes a batch again into the new generation when the
pointer moved during its write. Every batch the worker acknowledges after the swap is
therefore in the new generation; every batch acknowledged before it was published before
it, so the replay, which reads on after the swap up to the end of every partition as it
is then, writes those too.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from faststream.kafka.security import parse_security
from pydantic import ValidationError

from chassis import logs
from chassis.consumer import PoisonRecord, parse_record
from chassis.kafka import ensure_topics, kafka_security
from chassis.mongo import create_client
from contracts import erasure
from metrics.adapters.mongo import MetricsRepository, facts_collection_name
from metrics.bootstrap import CONSUMES
from metrics.config import MetricsSettings
from metrics.domain import retention
from metrics.domain.facts import fact_id, fact_of, pseudonymized
from metrics.service_layer.handlers import erase_late, record_erasures

log = logging.getLogger(__name__)

# Producers stamp records when they publish, at or after the event; this covers clock skew
# between the producing hosts and the one that stamped the event.
CLOCK_SKEW = timedelta(minutes=5)


@dataclass
class ReplayResult:
    generation: int
    previous: int
    records: int
    facts_inserted: int
    facts_copied: int
    skipped_poison: int
    seconds: float


class Replayer:
    def __init__(self, settings: MetricsSettings, repo: MetricsRepository) -> None:
        self.settings = settings
        self.repo = repo
        self.records = self.inserted = self.poison = 0
        self.erased: dict[str, str] = {}
        self.retention_days: dict[str, int] = {}

    async def write(self, target: int, facts: list[dict[str, Any]], events: list[Any]) -> int:
        """Store facts in the generation being built, erasures applied as the worker does:
        the advocates these events erase, those listed before, and those listed meanwhile
        (the worker rewrites the target too, and `erase_late` catches what it missed)."""
        erasures = await record_erasures(self.repo, events, self.erased)
        inserted = await self.repo.insert_facts(target, pseudonymized(facts, self.erased))
        self.erased = await self.repo.erased()
        await erase_late(self.repo, [target], facts, self.erased)
        for tenant, employee, pseudonym in erasures:
            await self.repo.erase_advocate(target, tenant, employee, pseudonym)
        return len(inserted)

    async def run(self, since: datetime | None) -> ReplayResult:
        started = time.monotonic()
        source = await self.repo.active_generation()
        target = await self.repo.next_generation()
        await self.repo.drop_generation(target)
        await self.repo.ensure_indexes(target)
        copied = await self.repo.copy_facts(source, target, since) if since else 0
        # Engagement past the retention is not read again from the topics (`_recent`): what
        # is kept of it, its roll-ups, is copied whatever `since` is.
        copied += await self.repo.copy_rollups(source, target)
        self.erased = await self.repo.erased()
        log.info(
            "replay started",
            extra={"generation": target, "since": since.isoformat() if since else None},
        )
        security = kafka_security(self.settings)
        await ensure_topics(
            self.settings.kafka_bootstrap_servers,
            CONSUMES,
            partitions=self.settings.topic_partitions,
            replication=self.settings.topic_replication,
            security=security,
        )
        consumer = AIOKafkaConsumer(
            bootstrap_servers=self.settings.kafka_bootstrap_servers.split(","),
            # No group: the replay reads on its own and commits nothing.
            group_id=None,
            enable_auto_commit=False,
            max_poll_records=self.settings.batch_size,
            **parse_security(security),
        )
        await consumer.start()
        try:
            partitions = await self._assign(consumer)
            await self._seek(consumer, partitions, since)
            await self._read_to_end(consumer, partitions, target)
            previous = await self.repo.activate(target)
            log.info("generation swapped in", extra={"generation": target, "previous": previous})
            await self._read_to_end(consumer, partitions, target)
            # The apis load it now: what they find in it from here on is complete.
            await self.repo.settle(target)
        finally:
            await consumer.stop()
        return ReplayResult(
            generation=target,
            previous=previous,
            records=self.records,
            facts_inserted=self.inserted,
            facts_copied=copied,
            skipped_poison=self.poison,
            seconds=round(time.monotonic() - started, 2),
        )

    async def _assign(self, consumer: AIOKafkaConsumer) -> list[TopicPartition]:
        # Without a group, a subscription is assigned every partition of its topics.
        consumer.subscribe(CONSUMES)
        expected = set(CONSUMES)
        for _ in range(600):
            if {tp.topic for tp in consumer.assignment()} == expected:
                return sorted(consumer.assignment())
            await asyncio.sleep(0.1)
        raise TimeoutError(f"no partitions assigned for {sorted(expected)} within 60 s")

    async def _seek(
        self,
        consumer: AIOKafkaConsumer,
        partitions: Sequence[TopicPartition],
        since: datetime | None,
    ) -> None:
        if since is None:
            await consumer.seek_to_beginning(*partitions)
            return
        stamp = int((since - CLOCK_SKEW).timestamp() * 1000)
        found = await consumer.offsets_for_times(dict.fromkeys(partitions, stamp))
        ends = await consumer.end_offsets(list(partitions))
        for tp in partitions:
            position = found.get(tp)
            consumer.seek(tp, position.offset if position is not None else ends[tp])

    async def _read_to_end(
        self, consumer: AIOKafkaConsumer, partitions: Sequence[TopicPartition], target: int
    ) -> None:
        """Apply every record up to the end of each partition as it is now."""
        ends = await consumer.end_offsets(list(partitions))
        while True:
            behind = [tp for tp in partitions if await consumer.position(tp) < ends[tp]]
            if not behind:
                return
            batches = await consumer.getmany(*behind, timeout_ms=1000)
            facts: list[dict[str, Any]] = []
            events: list[Any] = []
            for records in batches.values():
                for record in records:
                    self.records += 1
                    try:
                        event = parse_record(record)
                    except PoisonRecord:
                        # The live consumer already sent it to its dead-letter topic.
                        self.poison += 1
                        continue
                    events.append(event)
                    facts.append({"_id": fact_id(event), **fact_of(event)})
            self.inserted += await self.write(target, await self._recent(facts), events)

    async def _recent(self, facts: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The facts without engagement older than its tenant keeps in detail, as the
        worker leaves it out (`handlers.within_retention`)."""
        today = datetime.now(UTC).date()
        kept = []
        for fact in facts:
            if retention.is_detail(fact):
                tenant = fact["tenant"]
                if tenant not in self.retention_days:
                    settings = await self.repo.tenant_settings(tenant)
                    self.retention_days[tenant] = settings.detail_retention_days
                day = date.fromisoformat(fact["day"])
                if retention.expired(day, today, self.retention_days[tenant]):
                    continue
            kept.append(fact)
        return kept


async def replay(settings: MetricsSettings, since: datetime | None) -> ReplayResult:
    mongo = create_client(settings.mongodb_url, "chorus-metrics-replay")
    try:
        repo = MetricsRepository(mongo[settings.database])
        return await Replayer(settings, repo).run(since)
    finally:
        await mongo.close()


def _timestamp(value: str) -> datetime:
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise argparse.ArgumentTypeError("give a time zone, e.g. 2026-01-01T00:00:00Z")
    return parsed.astimezone(UTC)


def main(argv: Sequence[str]) -> None:
    """`python -m metrics replay [--since <RFC 3339>]`."""
    parser = argparse.ArgumentParser(
        prog="python -m metrics replay",
        description="Rebuild every read model from the topics, then swap it in.",
    )
    parser.add_argument(
        "--since",
        type=_timestamp,
        help="rebuild from this time on (RFC 3339); earlier figures are copied",
    )
    args = parser.parse_args(argv)
    try:
        settings = MetricsSettings()
    except ValidationError as exc:
        print(f"metrics: invalid settings: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    logs.configure("metrics", "replay", settings.log_level)
    # The erasures it replays are recorded under the same keys as the worker's.
    erasure.use_pseudonym_key(settings.pseudonym_key)
    result = asyncio.run(replay(settings, args.since))
    print(
        f"replayed {result.records} records into {facts_collection_name(result.generation)}"
        f" ({result.facts_inserted} facts, {result.facts_copied} copied,"
        f" {result.skipped_poison} poison skipped) in {result.seconds} s;"
        f" it replaces {facts_collection_name(result.previous)}"
    )
