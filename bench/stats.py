"""The one way every bench summarises its samples: the same percentile definition and the
same columns (n, p50, p99, max, mean), so their numbers compare.

A percentile is the nearest-rank one on the sorted samples (never beyond the slowest sample
measured); with fewer than 100 samples, p99 is the slowest one.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import dataclass

HEADER = f"{'n':>7} {'p50':>9} {'p99':>9} {'max':>9} {'mean':>9}"


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` percentile (0 < q <= 100) of `values`."""
    if not values:
        raise ValueError("no samples")
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[min(rank, len(ordered)) - 1]


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p99: float
    max: float
    mean: float

    def columns(self, decimals: int = 1) -> str:
        """The summary in the columns of HEADER."""
        f = f".{decimals}f"
        return f"{self.n:>7} {self.p50:>9{f}} {self.p99:>9{f}} {self.max:>9{f}} {self.mean:>9{f}}"


def summary(values: Sequence[float]) -> Summary:
    return Summary(
        n=len(values),
        p50=percentile(values, 50),
        p99=percentile(values, 99),
        max=max(values),
        mean=statistics.fmean(values),
    )
