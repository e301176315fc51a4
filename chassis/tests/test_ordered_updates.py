"""How `ordered_updates` reports a failed update: as one ordered bulk would (the commands
themselves are tested against the real server in integration/test_mongo_effects.py; the
MongoDB-wire server we test with answers a failed update without `nModified`, which PyMongo
cannot read, so the error's bookkeeping is tested here)."""

from __future__ import annotations

from typing import Any

import pytest
from pymongo import UpdateOne
from pymongo.errors import BulkWriteError
from pymongo.results import BulkWriteResult

from chassis.mongo import ordered_updates


class Collection:
    """Answers each command of updates; the update at `failing` (overall) fails."""

    def __init__(self, failing: int) -> None:
        self.failing = failing
        self.sent: list[int] = []

    async def bulk_write(self, chunk: list[UpdateOne], ordered: bool) -> BulkWriteResult:
        assert ordered
        start = sum(self.sent)
        self.sent.append(len(chunk))
        if start <= self.failing < start + len(chunk):
            done = self.failing - start
            raise BulkWriteError(
                {"writeErrors": [{"index": done, "code": 11000}], "nMatched": done}
            )
        return BulkWriteResult({"nMatched": len(chunk), "nUpserted": 0}, acknowledged=True)


async def test_the_failed_update_is_named_by_its_place_among_all_and_the_rest_not_sent() -> None:
    collection: Any = Collection(failing=27)
    updates = [UpdateOne({"_id": i}, {"$set": {"v": 1}}) for i in range(40)]
    with pytest.raises(BulkWriteError) as raised:
        await ordered_updates(collection, updates, per_command=10)
    assert [e["index"] for e in raised.value.details["writeErrors"]] == [27]
    assert raised.value.details["nMatched"] == 27
    assert collection.sent == [10, 10, 10]
