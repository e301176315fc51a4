"""Every bench summarises samples the same way (bench/stats.py)."""

from __future__ import annotations

import importlib.util
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
    assert (found.n, found.p50, found.p99, found.max, found.mean) == (4, 2.0, 10.0, 10.0, 4.0)
    assert len(found.columns()) == len(stats.HEADER)
    with pytest.raises(ValueError):
        stats.percentile([], 50)
