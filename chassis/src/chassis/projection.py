"""Exactly-once counters without transactions: per-document partition watermarks.

Each counter document remembers, per topic partition, the offset of the last event it
has counted (`_wm.<topic>-<partition>`). An increment is applied only for events past
that watermark, and the update is conditional on the watermark it read, so a batch
delivered again after a crash (with other batch boundaries, even) counts nothing twice
and loses nothing. Works with one consumer per partition, which Kafka's group protocol
gives; a conflicting writer (during a rebalance) makes the batch fail and be redelivered.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pymongo.asynchronous.collection import AsyncCollection
from pymongo.errors import DuplicateKeyError

WATERMARKS = "_wm"


class WatermarkConflict(RuntimeError):
    """Another writer moved a watermark between our read and our write."""


@dataclass(frozen=True)
class Delta:
    doc_id: Any
    topic: str
    partition: int
    offset: int
    inc: dict[str, int | float]
    set_on_insert: dict[str, Any] = field(default_factory=dict)

    @property
    def watermark_key(self) -> str:
        return f"{self.topic.replace('.', '_')}-{self.partition}"


async def apply_exactly_once(
    collection: AsyncCollection[dict[str, Any]],
    deltas: Sequence[Delta],
    concurrency: int = 16,
) -> int:
    """Apply `deltas`, skipping those already counted; returns how many were applied."""
    by_doc: dict[Any, list[Delta]] = defaultdict(list)
    for delta in deltas:
        by_doc[delta.doc_id].append(delta)
    if not by_doc:
        return 0
    marks: dict[Any, dict[str, int]] = {}
    async for doc in collection.find({"_id": {"$in": list(by_doc)}}, {WATERMARKS: 1}):
        marks[doc["_id"]] = doc.get(WATERMARKS) or {}

    gate = asyncio.Semaphore(concurrency)

    async def apply(doc_id: Any, items: list[Delta]) -> int:
        seen = marks.get(doc_id, {})
        fresh = [d for d in items if d.offset > seen.get(d.watermark_key, -1)]
        if not fresh:
            return 0
        inc: dict[str, int | float] = defaultdict(int)
        new_marks: dict[str, int] = {}
        set_on_insert: dict[str, Any] = {}
        for delta in fresh:
            for name, amount in delta.inc.items():
                inc[name] += amount
            new_marks[delta.watermark_key] = max(
                new_marks.get(delta.watermark_key, -1), delta.offset
            )
            set_on_insert.update(delta.set_on_insert)
        condition: dict[str, Any] = {"_id": doc_id}
        for key in new_marks:
            path = f"{WATERMARKS}.{key}"
            condition[path] = seen[key] if key in seen else {"$exists": False}
        update: dict[str, Any] = {
            "$inc": dict(inc),
            "$set": {f"{WATERMARKS}.{k}": v for k, v in new_marks.items()},
        }
        if set_on_insert:
            update["$setOnInsert"] = {k: v for k, v in set_on_insert.items() if k not in inc}
        async with gate:
            try:
                result = await collection.update_one(condition, update, upsert=True)
            except DuplicateKeyError as exc:
                raise WatermarkConflict(f"watermark moved under us for {doc_id!r}") from exc
        if result.matched_count == 0 and result.upserted_id is None:
            raise WatermarkConflict(f"watermark moved under us for {doc_id!r}")
        return len(fresh)

    counts = await asyncio.gather(*(apply(doc_id, items) for doc_id, items in by_doc.items()))
    return sum(counts)
