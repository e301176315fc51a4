"""How far a consumer group's handled records reach in each partition, kept in the
service's own database.

Kafka's committed offset lags the database: a worker killed between a batch's writes and
its commit gets the batch again, and so does its successor. Handlers are idempotent, so
nothing counts twice, but on FerretDB every repeated insert is refused one row at a time
in a transaction of its own: a killed worker's successor spent 25 s a batch of 1000 on
inserts refused as duplicates while the machine was busy, and fell minutes behind
(docs/architecture.md, "Progress marks").

So each batch, once handled, writes per partition the highest offset and the latest
record time it handled (`mark`); a record at or below both in its partition was handled,
and the next delivery leaves it out (`handled`). Both are needed: a topic deleted and
made again starts its offsets at 0, and its new records are newer than the mark.

The marks only ever leave out what was handled. A mark lost or behind (two writers at
once, a database restored from an older backup) makes records be handled again, as
without marks. A mark read once is kept in memory, and read again when a partition's
records do not follow on from it, or partitions are assigned anew: another consumer of
the group may have had it meanwhile.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import ConsumerRecord
from pymongo import UpdateOne
from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import PyMongoError

log = logging.getLogger(__name__)

COLLECTION = "consumer_progress"

Partition = tuple[str, int]


@dataclass(frozen=True)
class Mark:
    offset: int
    time: int  # the record's timestamp, ms since the epoch


class Progress:
    """The marks of consumer group `group` in `collection` (see the module docstring)."""

    def __init__(self, collection: AsyncCollection[dict[str, Any]], group: str) -> None:
        self._collection = collection
        self._group = group
        self._known: dict[Partition, Mark] = {}

    def _id(self, partition: Partition) -> str:
        return f"{self._group} {partition[0]} {partition[1]}"

    async def read(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Know the marks of the partitions of `records`, reading those that may have moved
        since; then `is_handled` tells which of `records` may be left out."""
        firsts: dict[Partition, int] = {}
        for record in records:
            key = (record.topic, record.partition)
            firsts[key] = min(firsts.get(key, record.offset), record.offset)
        unsure = [
            key
            for key, first in firsts.items()
            if key not in self._known or first != self._known[key].offset + 1
        ]
        if unsure:
            try:
                found = self._collection.find({"_id": {"$in": [self._id(k) for k in unsure]}})
                for doc in await found.to_list():
                    key = (doc["topic"], int(doc["partition"]))
                    self._keep(key, Mark(int(doc["offset"]), int(doc["time"])))
            except PyMongoError:
                log.warning("progress marks not read; the batch is handled whole", exc_info=True)

    def forget(self) -> None:
        """Read every mark again before using it: partitions were assigned anew."""
        self._known.clear()

    def is_handled(self, record: ConsumerRecord[Any, Any]) -> bool:
        mark = self._known.get((record.topic, record.partition))
        return mark is not None and record.offset <= mark.offset and record.timestamp <= mark.time

    async def mark(self, records: Sequence[ConsumerRecord[Any, Any]]) -> None:
        """Note `records` as handled (their effects are durable)."""
        reached: dict[Partition, Mark] = {}
        for record in records:
            key = (record.topic, record.partition)
            was = reached.get(key, Mark(-1, 0))
            reached[key] = Mark(max(was.offset, record.offset), max(was.time, record.timestamp))
        if not reached:
            return
        writes = [
            UpdateOne(
                {"_id": self._id(key)},
                {
                    "$max": {"offset": mark.offset, "time": mark.time},
                    "$set": {"group": self._group, "topic": key[0], "partition": key[1]},
                },
                upsert=True,
            )
            for key, mark in reached.items()
        ]
        try:
            await self._collection.bulk_write(writes, ordered=False)
        except PyMongoError:
            # Two writers upserting one mark at once, or the database away: the records
            # are handled again at their next delivery, as without marks.
            log.warning("progress marks not written", exc_info=True)
            return
        for key, mark in reached.items():
            self._keep(key, mark)

    def _keep(self, key: Partition, mark: Mark) -> None:
        was = self._known.get(key, mark)
        self._known[key] = Mark(max(was.offset, mark.offset), max(was.time, mark.time))
