"""The api's facts in memory: what a slice selects and sums, whether the facts are sorted
in or still in the tail, and what an erasure changes."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import numpy as np

from contracts.erasure import person_key
from metrics.adapters.memory import COUNTER_INDEX, FactTable


def _fact(n: int, day: str, advocate: str, tenant: str = "t1", **more: Any) -> dict[str, Any]:
    return {
        "_id": f"engagement-observed:{n}",
        "tenant": tenant,
        "type": "engagement-observed",
        "day": day,
        "time": datetime.fromisoformat(day).replace(tzinfo=UTC),
        "advocate": advocate,
        "network": "linkedin",
        **more,
    }


def _clicks(table: FactTable, tenant: str, start: str, end: str) -> dict[str, float]:
    selection = table.select(tenant, date.fromisoformat(start), date.fromisoformat(end))
    keys, sums = selection.sums(selection.columns["advocate"])
    return {
        table.label("advocate", int(k)): float(row[COUNTER_INDEX["clicks"]])
        for k, row in zip(keys, sums, strict=True)
    }


def _table() -> FactTable:
    table = FactTable(0)
    table.add(
        [
            _fact(1, "2026-11-01", "ann", clicks=1),
            _fact(2, "2026-11-02", "ann", clicks=2),
            _fact(3, "2026-11-02", "bob", clicks=4),
            _fact(4, "2026-11-03", "bob", clicks=8),
            _fact(5, "2026-11-02", "ann", tenant="t2", clicks=16),
        ]
    )
    return table


def test_a_fact_counts_once_however_often_it_comes() -> None:
    table = _table()
    assert table.add([_fact(2, "2026-11-02", "ann", clicks=2)]) == 0
    table.compact()
    assert table.add([_fact(2, "2026-11-02", "ann", clicks=2)]) == 0
    assert _clicks(table, "t1", "2026-11-01", "2026-11-03") == {"ann": 3, "bob": 12}


def test_a_slice_is_the_same_before_and_after_the_tail_is_sorted_in() -> None:
    table = _table()
    before = _clicks(table, "t1", "2026-11-02", "2026-11-02")
    table.compact()
    table.add([_fact(6, "2026-11-02", "cat", clicks=32)])
    assert before == {"ann": 2, "bob": 4}
    # Sorted part and tail together; other tenants and days left out.
    assert _clicks(table, "t1", "2026-11-02", "2026-11-02") == {"ann": 2, "bob": 4, "cat": 32}
    assert _clicks(table, "t2", "2026-11-01", "2026-11-30") == {"ann": 16}
    assert _clicks(table, "nobody", "2026-11-01", "2026-11-30") == {}


def test_filters_and_members_narrow_a_slice() -> None:
    table = _table()
    table.compact()
    table.add([_fact(7, "2026-11-02", "bob", network="x", clicks=64)])
    day = date(2026, 11, 2)
    only_x = table.select("t1", day, day, {"network": "x"})
    assert only_x.totals()[COUNTER_INDEX["clicks"]] == 64
    ann = table.code("advocate", "t1", "ann")
    assert ann is not None
    members = np.zeros(ann + 1, dtype=bool)  # shorter than the codes: the rest are not members
    members[ann] = True
    assert table.select("t1", day, day, None, members).totals()[COUNTER_INDEX["clicks"]] == 2
    assert table.select("t1", day, day, {"network": "nowhere"}).rows == 0


def test_an_erased_advocate_is_named_by_their_pseudonym_in_one_tenant_only() -> None:
    table = _table()
    table.add(
        [
            {
                "_id": "advocate-enrolled:9",
                "tenant": "t1",
                "type": "advocate-enrolled",
                "day": "2026-11-01",
                "time": datetime(2026, 11, 1, tzinfo=UTC),
                "advocate": "ann",
                "department": "Sales",
                "enrollments": 1,
            }
        ]
    )
    table.compact()
    table.erase("t1", "ann", "erased-1")
    assert _clicks(table, "t1", "2026-11-01", "2026-11-03") == {"erased-1": 3, "bob": 12}
    assert _clicks(table, "t2", "2026-11-01", "2026-11-03") == {"ann": 16}
    (record,) = table.records_of("t1", ["advocate-enrolled"])
    assert record["advocate"] == "erased-1" and "department" not in record


def test_an_advocate_is_found_by_their_erasure_key_in_their_tenant_only() -> None:
    table = _table()
    assert table.advocate_with_key("t1", person_key("t1", "ann")) == "ann"
    assert table.advocate_with_key("t2", person_key("t2", "ann")) == "ann"
    assert table.advocate_with_key("t1", person_key("t2", "ann")) is None
    assert table.advocate_with_key("t1", person_key("t1", "nobody")) is None
    table.erase("t1", "ann", "erased-1")
    assert table.advocate_with_key("t1", person_key("t1", "ann")) is None
    assert table.advocate_with_key("t2", person_key("t2", "ann")) == "ann"
