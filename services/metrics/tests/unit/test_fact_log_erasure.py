"""An erasure in the fact log: the entries that still name the advocate are written again,
pseudonymized, after the erasure's own entry; an api ends with the same figures whichever
version of an entry it read, and two erasures rewriting one entry keep both."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any, cast

import pytest

from contracts.erasure import person_key
from metrics.adapters.live import LiveFacts
from metrics.adapters.memory import COUNTER_INDEX, FactTable
from metrics.adapters.mongo import encode_facts, entry_of
from metrics.domain.facts import LogEntry, LoggedErasure, pseudonymized
from metrics.service_layer.handlers import erase_in_entry, erase_in_log

ANN, BOB = person_key("t1", "ann"), person_key("t1", "bob")


def _fact(n: int, advocate: str, kind: str = "engagement-observed", **more: Any) -> dict[str, Any]:
    return {
        "_id": f"{kind}:{n}",
        "tenant": "t1",
        "type": kind,
        "day": "2026-11-02",
        "time": datetime(2026, 11, 2, tzinfo=UTC),
        "advocate": advocate,
        "network": "linkedin",
        **more,
    }


FACTS = [
    _fact(1, "ann", "advocate-enrolled", enrollments=1, department="Sales", groups=["sales"]),
    _fact(2, "ann", "post-shared", shares=1, reach=300, groups=["sales"]),
    _fact(3, "ann", clicks=2),
    _fact(4, "bob", "post-shared", shares=1, reach=100),
    _fact(5, "bob", clicks=4),
]


class FakeLog:
    """The fact log's entries as the repository reads and rewrites them."""

    def __init__(self, *batches: list[dict[str, Any]]) -> None:
        self.entries = {
            n: {"_id": n, "facts": list(facts), "erasures": [], "rev": 0}
            for n, facts in enumerate(batches, 1)
        }
        # Run just before a rewrite is compared with the stored version (another writer).
        self.before_rewrite: list[Any] = []

    def read(self, seq: int) -> LogEntry:
        entry = self.entries[seq]
        return LogEntry(entry["_id"], entry["rev"], list(entry["facts"]))

    async def log_entries(self, first: int = 0) -> list[LogEntry]:
        return [self.read(n) for n in sorted(self.entries) if n >= first]

    async def log_entry(self, seq: int) -> LogEntry | None:
        return self.read(seq) if seq in self.entries else None

    async def rewrite_log_entry(
        self, seq: int, rev: int | None, facts: list[dict[str, Any]]
    ) -> bool:
        if self.before_rewrite:
            await self.before_rewrite.pop(0)()
        entry = self.entries.get(seq)
        if entry is None or entry["rev"] != rev:
            return False
        entry.update(facts=list(facts), rev=rev + 1)
        return True


async def test_the_entries_naming_the_erased_are_rewritten_and_the_others_left() -> None:
    log = FakeLog(FACTS[:3], FACTS[3:])
    erased = {ANN: "erased-1"}
    assert await erase_in_log(cast(Any, log), erased) == 1
    first, second = log.entries[1], log.entries[2]
    assert first["rev"] == 1 and second["rev"] == 0
    assert [f["_id"] for f in first["facts"]] == [f["_id"] for f in FACTS[:3]]
    assert {f["advocate"] for f in first["facts"]} == {"erased-1"}
    assert "department" not in first["facts"][0] and first["facts"][0]["groups"] == ["sales"]
    assert second["facts"] == FACTS[3:]
    # Once rewritten, nothing is left to do.
    assert await erase_in_log(cast(Any, log), erased) == 0


async def test_two_erasures_rewriting_one_entry_keep_both() -> None:
    log = FakeLog(FACTS)

    async def bob_erased_meanwhile() -> None:
        await erase_in_entry(cast(Any, log), log.read(1), {BOB: "erased-2"})

    log.before_rewrite.append(bob_erased_meanwhile)
    # Read before Bob's rewrite, written after it: the write is refused, and done again.
    assert await erase_in_entry(cast(Any, log), log.read(1), {ANN: "erased-1"})
    entry = log.entries[1]
    assert entry["rev"] == 2
    assert {f["advocate"] for f in entry["facts"]} == {"erased-1", "erased-2"}


async def test_an_entry_trimmed_before_its_rewrite_is_left() -> None:
    log = FakeLog(FACTS)
    entry = log.read(1)
    del log.entries[1]
    assert await erase_in_entry(cast(Any, log), entry, {ANN: "erased-1"}) == 0


def _clicks_and_shares(table: FactTable) -> dict[str, tuple[float, float]]:
    selection = table.select("t1", date(2026, 11, 1), date(2026, 11, 30))
    keys, sums = selection.sums(selection.columns["advocate"])
    return {
        table.label("advocate", int(k)): (
            float(row[COUNTER_INDEX["clicks"]]),
            float(row[COUNTER_INDEX["shares"]]),
        )
        for k, row in zip(keys, sums, strict=True)
    }


def _api_applying(entries: list[LogEntry]) -> LiveFacts:
    live = LiveFacts(cast(Any, None), retention_seconds=120)
    live.table = FactTable(0)
    for entry in entries:
        live._apply(entry)
    return live


ERASURE = LogEntry(
    2,
    0,
    pseudonymized([_fact(6, "ann", "advocate-opted-out", opt_outs=1)], {ANN: "erased-1"}),
    (LoggedErasure("t1", ANN, "erased-1"),),
)
BEFORE = LogEntry(1, 0, FACTS)
AFTER = LogEntry(1, 1, pseudonymized(FACTS, {ANN: "erased-1"}))


@pytest.mark.parametrize(
    "read",
    [
        # Entry 1 read before its rewrite, or after it; read twice (a load reads the
        # generation and the log), in either order. The erasure comes after it in the log.
        [BEFORE, ERASURE],
        [AFTER, ERASURE],
        [BEFORE, AFTER, ERASURE],
        [AFTER, BEFORE, ERASURE],
        [BEFORE, ERASURE, AFTER],
    ],
)
async def test_an_api_counts_the_same_whichever_version_of_an_entry_it_read(
    read: list[LogEntry],
) -> None:
    live = _api_applying(read)
    table = live.table
    assert table is not None
    assert _clicks_and_shares(table) == {"erased-1": (2.0, 1.0), "bob": (4.0, 1.0)}
    records = table.records_of("t1", ["advocate-enrolled", "post-shared"])
    assert sorted(r["advocate"] for r in records) == ["bob", "erased-1", "erased-1"]
    assert not any("department" in r for r in records)
    assert live.erased == {ANN: "erased-1"}
    assert table.advocate_with_key("t1", ANN) is None
    # Facts of theirs that come later are stored under the pseudonym too.
    live._apply(LogEntry(3, 0, [_fact(7, "ann", clicks=1)]))
    assert _clicks_and_shares(table)["erased-1"] == (3.0, 1.0)


async def test_an_erasure_logged_by_an_earlier_worker_names_the_id_and_still_applies() -> None:
    old = entry_of(
        {
            "_id": 2,
            "facts": encode_facts(ERASURE.facts),
            "erasures": [{"tenant": "t1", "employee": "ann", "pseudonym": "erased-1"}],
        }
    )
    live = _api_applying([BEFORE, old])
    assert live.table is not None
    assert _clicks_and_shares(live.table) == {"erased-1": (2.0, 1.0), "bob": (4.0, 1.0)}
