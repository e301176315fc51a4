"""The one way every bench summarises what it measured: one percentile definition and one
table, so their numbers compare.

A percentile is the nearest-rank one: the smallest sample with at least q % of the samples
at or below it (never beyond the slowest sample measured; with fewer than 100 samples, p99
is the slowest one). Samples come as a list of values, as (value, count) pairs when a
tool counts them per value (wrk, to the microsecond), or as cumulative histogram buckets
when only a server's histogram saw them (Prometheus): there the percentile is the upper
bound of the bucket holding that rank, the closest a histogram can tell.

Every bench prints its results as rows of the same columns, each measurement beside the
baseline it is compared with:

    first   the first request after the process started (ms)
    n       samples
    p50     median (ms)
    p99     (ms)
    max     slowest sample (ms)
    per s   throughput (requests, pages or events per second)

A column that does not apply to a row is `-`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

NAME_WIDTH = 52
_COLUMNS = (("first", 9), ("n", 8), ("p50", 9), ("p99", 9), ("max", 9), ("per s", 10))


def _rank(q: float, n: int) -> int:
    if n == 0:
        raise ValueError("no samples")
    if not 0 < q <= 100:
        raise ValueError(f"percentile {q} is not in (0, 100]")
    return min(max(1, math.ceil(q / 100 * n)), n)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank `q` percentile (0 < q <= 100) of `values`."""
    ordered = sorted(values)
    return ordered[_rank(q, len(ordered)) - 1]


def percentile_of_counts(counts: Iterable[tuple[float, int]], q: float) -> float:
    """`percentile` of samples given as (value, how many samples had it)."""
    ordered = sorted((value, n) for value, n in counts if n > 0)
    rank = _rank(q, sum(n for _, n in ordered))
    seen = 0
    for value, n in ordered:
        seen += n
        if seen >= rank:
            return value
    raise AssertionError("unreachable: the rank is within the total")


def percentile_of_buckets(buckets: Sequence[tuple[float, float]], q: float) -> float:
    """`percentile` of samples only a histogram saw: cumulative (upper bound, count) buckets,
    the last one +Inf. The upper bound of the bucket holding the rank (inf beyond the last
    finite bound)."""
    ordered = sorted(buckets)
    rank = _rank(q, int(ordered[-1][1]) if ordered else 0)
    for upper, count in ordered:
        if count >= rank:
            return upper
    return math.inf


@dataclass(frozen=True)
class Summary:
    n: int
    p50: float
    p99: float
    # None where only a histogram saw the samples.
    max: float | None


def summary(values: Sequence[float]) -> Summary:
    return Summary(
        n=len(values),
        p50=percentile(values, 50),
        p99=percentile(values, 99),
        max=max(values),
    )


def summary_of_counts(counts: Sequence[tuple[float, int]]) -> Summary:
    return Summary(
        n=sum(n for _, n in counts),
        p50=percentile_of_counts(counts, 50),
        p99=percentile_of_counts(counts, 99),
        max=max(value for value, n in counts if n > 0),
    )


def summary_of_buckets(buckets: Sequence[tuple[float, float]]) -> Summary:
    return Summary(
        n=int(max(count for _, count in buckets)),
        p50=percentile_of_buckets(buckets, 50),
        p99=percentile_of_buckets(buckets, 99),
        max=None,
    )


def header(label: str = "milliseconds") -> str:
    """The column titles, `label` above the row names."""
    return f"{label:<{NAME_WIDTH}}" + "".join(f" {title:>{width}}" for title, width in _COLUMNS)


def row(
    name: str,
    found: Summary | Sequence[float] | None = None,
    *,
    first: float | None = None,
    per_second: float | None = None,
    decimals: int = 1,
) -> str:
    """One row: `found` (a Summary, or the samples in ms), the first request's ms, and the
    throughput, where they apply."""
    if found is not None and not isinstance(found, Summary):
        found = summary(found) if len(found) else None

    def ms(value: float | None, width: int) -> str:
        if value is None:
            return f" {'-':>{width}}"
        if math.isinf(value):
            return f" {'inf':>{width}}"
        return f" {value:>{width}.{decimals}f}"

    widths = dict(_COLUMNS)
    cells = [
        ms(first, widths["first"]),
        f" {found.n:>{widths['n']},}" if found else f" {'-':>{widths['n']}}",
        ms(found.p50 if found else None, widths["p50"]),
        ms(found.p99 if found else None, widths["p99"]),
        ms(found.max if found else None, widths["max"]),
        f" {per_second:>{widths['per s']},.{0 if per_second >= 100 else 1}f}"
        if per_second is not None
        else f" {'-':>{widths['per s']}}",
    ]
    return f"{name:<{NAME_WIDTH}}" + "".join(cells)
