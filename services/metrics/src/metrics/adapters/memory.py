"""The api's copy of the facts, in memory and in columns, so a figure never scans the
database.

The worker stays the only writer of facts. The api loads the active generation once, then
follows the fact log (`fact_log`, see `MetricsRepository.append_log`): every batch the
worker stores is first written there under the next sequence number, and the api reads
the entries after the last one it applied, by `_id`, before it answers a request. A fact
is applied once: its event's key is remembered, and an entry read twice (a batch
redelivered after a crash) adds nothing.

Columns: one row per fact, its tenant, type, day and dimensions as integer codes; its
counters as entries (row, counter, value), since a fact moves one or two counters of
twenty. Rows loaded at the start are sorted by (tenant, day), so a period is a contiguous
range; rows that came later wait in a tail that is merged in now and then. Sums are
`numpy.bincount` over the entries of the rows a slice selects. The records a figure needs
whole (advocates' enrollments, content, measurements, shares) are also kept as dicts.

Measured in docs/architecture.md (metrics, "The api's facts in memory").
"""

from __future__ import annotations

import itertools
from array import array
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date
from typing import Any

import numpy as np
import numpy.typing as npt

from contracts.erasure import is_pseudonym
from metrics.domain.facts import COUNTERS, PERSONAL_FIELDS, erasure_key
from metrics.domain.retention import ENGAGEMENT

Ints = npt.NDArray[np.int64]
Floats = npt.NDArray[np.float64]

NC = len(COUNTERS)
COUNTER_INDEX = {name: i for i, name in enumerate(COUNTERS)}
SHARES = COUNTER_INDEX["shares"]
# The dimensions a fact is summed by, each coded as an integer (0 is "none").
DIMENSIONS = ("advocate", "network", "content", "campaign", "kind", "share")
COLUMNS = ("tenant", "type", "day", *DIMENSIONS)
# Facts kept whole as well, with these fields: few, and read as records by the figures.
RECORD_TYPES = frozenset(
    {
        "advocate-enrolled",
        "advocate-opted-out",
        "audience-measured",
        "followers-measured",
        "content-published",
        "content-updated",
        "content-retired",
        "post-shared",
    }
)
RECORD_FIELDS = (
    "type",
    "time",
    "advocate",
    "groups",
    "department",
    "location",
    "network",
    "audience_size",
    "followers",
    "content",
    "title",
    "kind",
    "campaign",
    "share",
    "share_location",
    "topics",
)
# Rows wait in the tail until there are this many; then they are sorted into the rest.
TAIL_ROWS = 50_000
DAY_BITS = 22  # days since year 1 fit in 22 bits until the year 11,000
_SERIALS = itertools.count(1)
# Keys up to this many are summed into a slot each (a few MB), more by sorting them.
DENSE_KEYS = 250_000


class Codes:
    """Strings as small integers, both ways; 0 is the empty string."""

    def __init__(self) -> None:
        self.codes: dict[str, int] = {"": 0}
        self.labels: list[str] = [""]

    def code(self, value: str) -> int:
        found = self.codes.get(value)
        if found is None:
            found = self.codes[value] = len(self.labels)
            self.labels.append(value)
        return found

    def find(self, value: str) -> int | None:
        return self.codes.get(value)

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Selection:
    """The rows of a slice: their codes per column, and their counter entries, each entry
    naming its row by position in the selection."""

    columns: dict[str, Ints]
    entry_row: Ints
    entry_counter: Ints
    entry_value: Floats
    _sharing: npt.NDArray[np.bool_] | None = None

    @property
    def rows(self) -> int:
        return len(self.columns["day"])

    def totals(self) -> Floats:
        return np.bincount(self.entry_counter, self.entry_value, minlength=NC).astype(np.float64)

    def sums(self, keys: Ints) -> tuple[Ints, Floats]:
        """Counters summed per distinct key (one key per row): (keys, sums[key, counter]),
        keys in ascending order."""
        if not len(keys):
            return keys, np.zeros((0, NC), dtype=np.float64)
        width = int(keys.max()) + 1
        if width <= DENSE_KEYS:
            # Codes are small integers: count into a slot per code, no sort.
            present = np.flatnonzero(np.bincount(keys, minlength=width))
            flat = keys[self.entry_row] * NC + self.entry_counter
            sums = np.bincount(flat, self.entry_value, minlength=width * NC)
            return present, sums.reshape(width, NC)[present].astype(np.float64)
        unique, inverse = np.unique(keys, return_inverse=True)
        flat = inverse[self.entry_row] * NC + self.entry_counter
        sums = np.bincount(flat, self.entry_value, minlength=len(unique) * NC)
        return unique, sums.astype(np.float64).reshape(len(unique), NC)

    def sharing(self) -> npt.NDArray[np.bool_]:
        """Per row: does it count a share (the rows an active advocate is found by)."""
        if self._sharing is None:
            rows = self.entry_row[(self.entry_counter == SHARES) & (self.entry_value > 0)]
            self._sharing = np.zeros(self.rows, dtype=bool)
            self._sharing[rows] = True
        return self._sharing


class FactTable:
    """Every fact of one generation, all tenants, as columns and records."""

    def __init__(self, generation: int) -> None:
        self.generation = generation
        # Tells tables apart for as long as the process runs (what figures keep names it).
        self.serial = next(_SERIALS)
        self.tenants = Codes()
        self.types = Codes()
        # Advocates are coded per tenant (an erasure renames one tenant's advocate only).
        self.codes = {name: Codes() for name in DIMENSIONS}
        # Sorted part: columns, the (tenant, day) key, and each row's entries.
        self.base = {name: np.zeros(0, dtype=np.int64) for name in COLUMNS}
        self.base_key = np.zeros(0, dtype=np.int64)
        self.base_start = np.zeros(0, dtype=np.int64)
        self.base_count = np.zeros(0, dtype=np.int64)
        self.base_counter = np.zeros(0, dtype=np.int64)
        self.base_value = np.zeros(0, dtype=np.float64)
        self.base_ids = np.zeros(0, dtype=np.int64)
        # The tail: rows in arrival order.
        self.tail = {name: array("q") for name in COLUMNS}
        self.tail_start = array("q")
        self.tail_count = array("q")
        self.tail_counter = array("q")
        self.tail_value = array("d")
        self.tail_ids: set[int] = set()
        self._tail_np: dict[str, Any] | None = None
        self.records: dict[str, list[dict[str, Any]]] = defaultdict(list)
        # Per tenant, what changed: "facts" on every fact, and one per kind of record.
        self.versions: dict[tuple[str, str], int] = defaultdict(int)
        # Per tenant, how often records were changed in place (erasures): what was made
        # of them record by record is made again.
        self.rewrites: dict[str, int] = defaultdict(int)

    # -- writing -------------------------------------------------------------------------

    def knows(self, fact_id: str) -> bool:
        key = hash(fact_id)
        if key in self.tail_ids:
            return True
        i = int(np.searchsorted(self.base_ids, key))
        return i < len(self.base_ids) and int(self.base_ids[i]) == key

    def add(self, facts: Iterable[Mapping[str, Any]]) -> int:
        """Add facts not seen before; returns how many were new."""
        added = 0
        for fact in facts:
            if self.knows(fact["_id"]):
                continue
            self._append(fact)
            added += 1
        if added:
            self._tail_np = None
            if len(self.tail_start) >= TAIL_ROWS:
                self.compact()
        return added

    def _append(self, fact: Mapping[str, Any]) -> None:
        tenant = str(fact["tenant"])
        kind = str(fact.get("type") or "")
        tail = self.tail
        tail["tenant"].append(self.tenants.code(tenant))
        tail["type"].append(self.types.code(kind))
        tail["day"].append(date.fromisoformat(fact["day"]).toordinal())
        for name in DIMENSIONS:
            value = str(fact.get(name) or "")
            if name == "advocate" and value:
                value = f"{tenant}\x1f{value}"
            tail[name].append(self.codes[name].code(value))
        self.tail_start.append(len(self.tail_counter))
        count = 0
        for i, counter in enumerate(COUNTERS):
            amount = fact.get(counter)
            if amount:
                self.tail_counter.append(i)
                self.tail_value.append(float(amount))
                count += 1
        self.tail_count.append(count)
        self.tail_ids.add(hash(fact["_id"]))
        self.versions[(tenant, "facts")] += 1
        if kind in RECORD_TYPES:
            self.records[tenant].append(
                {name: fact[name] for name in RECORD_FIELDS if name in fact}
            )
            self.versions[(tenant, kind)] += 1

    def compact(self) -> None:
        """Sort the tail into the rest."""
        if not self.tail_start:
            return
        tail = self._tail()
        columns = {n: np.concatenate([self.base[n], tail[n]]) for n in COLUMNS}
        starts = np.concatenate([self.base_start, tail["start"] + len(self.base_counter)])
        counts = np.concatenate([self.base_count, tail["count"]])
        counter = np.concatenate([self.base_counter, tail["counter"]])
        value = np.concatenate([self.base_value, tail["value"]])
        key = (columns["tenant"] << DAY_BITS) | columns["day"]
        order = np.argsort(key, kind="stable")
        self.base = {n: c[order] for n, c in columns.items()}
        self.base_key = key[order]
        self.base_count = counts[order]
        # Each row's entries, laid out in the new row order.
        entries = _entries_of(starts[order], self.base_count)
        self.base_counter = counter[entries]
        self.base_value = value[entries]
        self.base_start = np.concatenate([[0], np.cumsum(self.base_count)[:-1]]).astype(np.int64)
        self.base_ids = np.union1d(self.base_ids, np.fromiter(self.tail_ids, dtype=np.int64))
        self.tail = {name: array("q") for name in COLUMNS}
        self.tail_start, self.tail_count = array("q"), array("q")
        self.tail_counter, self.tail_value = array("q"), array("d")
        self.tail_ids = set()
        self._tail_np = None

    def _tail(self) -> dict[str, Any]:
        if self._tail_np is None:
            out: dict[str, Any] = {n: np.frombuffer(self.tail[n], dtype=np.int64) for n in COLUMNS}
            out["start"] = np.frombuffer(self.tail_start, dtype=np.int64)
            out["count"] = np.frombuffer(self.tail_count, dtype=np.int64)
            out["counter"] = np.frombuffer(self.tail_counter, dtype=np.int64)
            out["value"] = np.frombuffer(self.tail_value, dtype=np.float64)
            # Copies: the arrays behind them grow, and a view would pin their buffers.
            self._tail_np = {k: v.copy() for k, v in out.items()}
        return self._tail_np

    def advocate_with_key(self, tenant: str, key: str) -> str | None:
        """The id of the tenant's advocate whose erasure key is `key`, if any fact names
        them by it. Worked out when asked, by hashing the tenant's advocates: erasures are
        rare, and 200,000 advocates of one tenant take 0.3-0.8 s on the test machine."""
        prefix = f"{tenant}\x1f"
        for label in self.codes["advocate"].labels:
            if label.startswith(prefix):
                employee = label[len(prefix) :]
                if not is_pseudonym(employee) and erasure_key(tenant, employee) == key:
                    return employee
        return None

    def erase(self, tenant: str, employee: str, pseudonym: str) -> None:
        """Name an erased advocate's facts by their pseudonym, without personal fields."""
        codes = self.codes["advocate"]
        old = codes.find(f"{tenant}\x1f{employee}")
        if old is not None:
            new = codes.find(f"{tenant}\x1f{pseudonym}")
            if new is None:
                # Renamed in place: every row keeps its code.
                del codes.codes[f"{tenant}\x1f{employee}"]
                codes.codes[f"{tenant}\x1f{pseudonym}"] = old
                codes.labels[old] = f"{tenant}\x1f{pseudonym}"
            else:
                self.base["advocate"][self.base["advocate"] == old] = new
                column = self.tail["advocate"]
                for i, code in enumerate(column):
                    if code == old:
                        column[i] = new
                self._tail_np = None
        for record in self.records.get(tenant, ()):
            if record.get("advocate") == employee:
                record["advocate"] = pseudonym
                for name in PERSONAL_FIELDS:
                    record.pop(name, None)
        for kind in RECORD_TYPES:
            self.versions[(tenant, kind)] += 1
        self.versions[(tenant, "facts")] += 1
        self.rewrites[tenant] += 1

    def replace_engagement(
        self, tenant: str, days: Iterable[str], facts: Iterable[Mapping[str, Any]]
    ) -> None:
        """Replace the tenant's engagement facts of `days`, whichever it holds (detail,
        roll-ups, both or neither), by `facts`: every roll-up of those days. The ids of the
        detail stay known, so a redelivered event adds nothing here either."""
        tenant_code = self.tenants.find(tenant)
        type_code = self.types.find(ENGAGEMENT)
        if tenant_code is not None and type_code is not None:
            self.compact()
            ordinals = [date.fromisoformat(day).toordinal() for day in days]
            drop = (self.base["tenant"] == tenant_code) & (self.base["type"] == type_code)
            drop &= np.isin(self.base["day"], ordinals)
            if drop.any():
                self._keep_base(~drop)
        seen: set[str] = set()
        for fact in facts:
            if fact["_id"] not in seen:
                seen.add(fact["_id"])
                self._append(fact)
        self._tail_np = None
        self.versions[(tenant, "facts")] += 1

    def _keep_base(self, keep: npt.NDArray[np.bool_]) -> None:
        """Keep only the sorted rows `keep` selects (and their entries), in their order."""
        self.base = {name: column[keep] for name, column in self.base.items()}
        self.base_key = self.base_key[keep]
        entries = _entries_of(self.base_start[keep], self.base_count[keep])
        self.base_count = self.base_count[keep]
        self.base_counter = self.base_counter[entries]
        self.base_value = self.base_value[entries]
        self.base_start = np.concatenate([[0], np.cumsum(self.base_count)[:-1]]).astype(np.int64)

    # -- reading -------------------------------------------------------------------------

    def version(self, tenant: str, *kinds: str) -> tuple[int, ...]:
        return tuple(self.versions.get((tenant, kind), 0) for kind in kinds)

    def records_of(self, tenant: str, types: Iterable[str]) -> list[dict[str, Any]]:
        wanted = set(types)
        return [r for r in self.records.get(tenant, ()) if r["type"] in wanted]

    def records_since(
        self, tenant: str, position: int, types: Iterable[str]
    ) -> tuple[int, list[dict[str, Any]]]:
        """The tenant's records of `types` added after `position` (0: all), and the position
        to ask from next time. Records are only ever added, except by `erase`
        (`rewrites`)."""
        wanted = set(types)
        records = self.records.get(tenant, [])
        return len(records), [r for r in records[position:] if r["type"] in wanted]

    def code(self, dimension: str, tenant: str, value: str) -> int | None:
        if dimension == "advocate":
            value = f"{tenant}\x1f{value}"
        return self.codes[dimension].find(value)

    def label(self, dimension: str, code: int) -> str:
        value = self.codes[dimension].labels[code]
        return value.split("\x1f", 1)[1] if dimension == "advocate" and value else value

    def select(
        self,
        tenant: str,
        start: date | None,
        end: date | None,
        equal: Mapping[str, str] | None = None,
        members: npt.NDArray[np.bool_] | None = None,
    ) -> Selection:
        """The rows of a tenant between two days (inclusive), whose dimensions equal
        `equal` and, when `members` is given, whose advocate's code is True in it (codes
        beyond its end are not members)."""
        tenant_code = self.tenants.find(tenant)
        first = start.toordinal() if start else 0
        last = end.toordinal() if end else (1 << DAY_BITS) - 1
        parts: list[Selection] = []
        if tenant_code is None:
            return _empty()
        wanted: dict[str, int] = {}
        for name, value in (equal or {}).items():
            code = self.code(name, tenant, value)
            if code is None:
                return _empty()
            wanted[name] = code
        if members is not None and len(members) < len(self.codes["advocate"]):
            members = np.concatenate(
                [members, np.zeros(len(self.codes["advocate"]) - len(members), dtype=bool)]
            )
        # The sorted part: a range, then the filters.
        lo = int(np.searchsorted(self.base_key, (tenant_code << DAY_BITS) | first, "left"))
        hi = int(np.searchsorted(self.base_key, (tenant_code << DAY_BITS) | last, "right"))
        if hi > lo:
            columns = {n: c[lo:hi] for n, c in self.base.items()}
            keep = _keep(columns, wanted, members)
            parts.append(
                _part(
                    columns,
                    self.base_start[lo:hi],
                    self.base_count[lo:hi],
                    self.base_counter,
                    self.base_value,
                    keep,
                )
            )
        if self.tail_start:
            tail = self._tail()
            columns = {n: tail[n] for n in COLUMNS}
            keep = (columns["tenant"] == tenant_code) & (columns["day"] >= first)
            keep &= columns["day"] <= last
            keep = _keep(columns, wanted, members, keep)
            parts.append(
                _part(columns, tail["start"], tail["count"], tail["counter"], tail["value"], keep)
            )
        return _concat(parts)


def _entries_of(starts: Ints, counts: Ints) -> Ints:
    """The entry positions of rows, row after row: start..start+count of each."""
    total = int(counts.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(counts)[:-1]]), counts)
    out: Ints = np.arange(total, dtype=np.int64) + offsets
    return out


def _keep(
    columns: Mapping[str, Ints],
    wanted: Mapping[str, int],
    members: npt.NDArray[np.bool_] | None,
    keep: npt.NDArray[np.bool_] | None = None,
) -> npt.NDArray[np.bool_] | None:
    for name, code in wanted.items():
        match = columns[name] == code
        keep = match if keep is None else keep & match
    if members is not None:
        match = members[columns["advocate"]]
        keep = match if keep is None else keep & match
    return keep


def _part(
    columns: Mapping[str, Ints],
    starts: Ints,
    counts: Ints,
    counter: Ints,
    value: Floats,
    keep: npt.NDArray[np.bool_] | None,
) -> Selection:
    if keep is not None:
        columns = {n: c[keep] for n, c in columns.items()}
        starts, counts = starts[keep], counts[keep]
    entries = _entries_of(starts, counts)
    rows = np.repeat(np.arange(len(counts), dtype=np.int64), counts)
    return Selection(dict(columns), rows, counter[entries], value[entries])


def _concat(parts: list[Selection]) -> Selection:
    if not parts:
        return _empty()
    if len(parts) == 1:
        return parts[0]
    offset = 0
    rows = []
    for part in parts:
        rows.append(part.entry_row + offset)
        offset += part.rows
    return Selection(
        {n: np.concatenate([p.columns[n] for p in parts]) for n in COLUMNS},
        np.concatenate(rows),
        np.concatenate([p.entry_counter for p in parts]),
        np.concatenate([p.entry_value for p in parts]),
    )


def _empty() -> Selection:
    nothing = np.zeros(0, dtype=np.int64)
    return Selection({n: nothing for n in COLUMNS}, nothing, nothing, np.zeros(0, dtype=np.float64))
