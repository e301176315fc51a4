"""Every bench summarises samples the same way (bench/stats.py)."""

from __future__ import annotations

import importlib.util
import math
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parents[2]


def _stats() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_stats", REPO / "bench" / "stats.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["bench_stats"] = module  # its dataclass looks its module up there
    spec.loader.exec_module(module)
    return module


stats = _stats()


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([5.0], 50, 5.0),
        ([5.0], 99, 5.0),
        ([1.0, 2.0], 50, 1.0),
        ([1.0, 2.0], 99, 2.0),
        ([float(v) for v in range(1, 101)], 50, 50.0),
        ([float(v) for v in range(1, 101)], 99, 99.0),
        ([float(v) for v in range(1, 101)], 100, 100.0),
        ([float(v) for v in range(100, 0, -1)], 99, 99.0),
        ([float(v) for v in range(1, 11)], 99, 10.0),
    ],
)
def test_the_nearest_rank_percentile(values: list[float], q: float, expected: float) -> None:
    assert stats.percentile(values, q) == expected


def test_a_summary_has_the_same_columns_everywhere() -> None:
    found = stats.summary([3.0, 1.0, 2.0, 10.0])
    assert (found.n, found.p50, found.p99, found.max) == (4, 2.0, 10.0, 10.0)
    header = stats.header()
    assert header.split()[1:] == ["first", "n", "p50", "p99", "max", "per", "s"]
    for line in (
        stats.row("samples", found, first=12.5, per_second=250.0),
        stats.row("throughput only", per_second=1234.0),
        stats.row("histogram", stats.summary_of_buckets([(1.0, 2), (5.0, 4), (math.inf, 4)])),
    ):
        assert len(line) == len(header)
    with pytest.raises(ValueError):
        stats.percentile([], 50)


def test_counts_and_buckets_follow_the_same_rule() -> None:
    samples = [1.0, 1.0, 2.0, 3.0, 3.0, 3.0, 9.0]
    counts = [(1.0, 2), (2.0, 1), (3.0, 3), (9.0, 1)]
    for q in (50, 99):
        assert stats.percentile_of_counts(counts, q) == stats.percentile(samples, q)
    # Cumulative buckets: the upper bound of the bucket holding the rank.
    buckets = [(1.0, 2), (4.0, 6), (10.0, 7), (math.inf, 7)]
    assert stats.percentile_of_buckets(buckets, 50) == 4.0
    assert stats.percentile_of_buckets(buckets, 99) == 10.0
