"""The employee feed: its order (the viewer's languages first, then newest, within a day
the items on the viewer's areas of expertise first, then most shared), and a tenant's live
items held in that order so that a page is read from memory."""

from __future__ import annotations

import heapq
import sys
from bisect import bisect_left, insort
from collections.abc import Collection, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from content.domain.coaching import area
from content.domain.model import Status
from contracts.audience import Audience, Viewer
from contracts.erasure import person_key

PUBLISHED = Status.PUBLISHED.value
# (publish day, shares, id), compared as a tuple: the feed shows the largest first.
Key = tuple[str, int, str]

# Items are ranked by the day they went live, and within a day by how often they were
# shared: a fresh item is not buried under an old popular one, and among the day's items
# the ones colleagues found worth sharing come first. For a viewer who named areas of
# expertise, a day's items on one of those areas come before the day's others (each part
# still by shares): what suits the person rises, but never above a newer day.
SORT: list[tuple[str, int]] = [("publish_day", -1), ("shares", -1), ("_id", -1)]


def publish_day(publish_at: datetime) -> str:
    return publish_at.strftime("%Y-%m-%d")


@dataclass(frozen=True)
class Position:
    """Where a feed page ended: the language phase, the last item's sort key, and whether
    that item was in its day's part on the viewer's areas (`match`)."""

    phase: int
    day: str
    shares: int
    item_id: str
    match: int = 0

    def encode(self) -> dict[str, Any]:
        raw: dict[str, Any] = {"p": self.phase, "d": self.day, "s": self.shares, "i": self.item_id}
        if self.match:
            raw["m"] = 1
        return raw

    @classmethod
    def decode(cls, raw: dict[str, Any]) -> Position | None:
        phase, day, shares, item_id = raw.get("p"), raw.get("d"), raw.get("s"), raw.get("i")
        match = raw.get("m", 0)
        if (
            not isinstance(phase, int)
            or phase not in (0, 1)
            or not isinstance(day, str)
            or not isinstance(shares, int)
            or not isinstance(item_id, str)
            or match not in (0, 1)
        ):
            return None
        return cls(phase, day, shares, item_id, int(match))

    @property
    def key(self) -> Key:
        return (self.day, self.shares, self.item_id)


class NotThisFeed(ValueError):
    """A cursor of a language phase this viewer's feed does not have."""


@dataclass(frozen=True)
class Filters:
    topic: str | None = None
    kind: str | None = None


@dataclass(frozen=True, slots=True)
class Entry:
    """One live item: what the feed sorts and filters on, and the item as it is shown."""

    key: Key
    language: str | None
    topics: frozenset[str]
    # The topics as areas of expertise are compared (coaching.area).
    areas: frozenset[str]
    kind: str | None
    audience: Audience
    live_until: datetime
    rev: int
    doc: dict[str, Any]

    @property
    def item_id(self) -> str:
        return self.key[2]

    @property
    def shares(self) -> int:
        return self.key[1]

    @classmethod
    def of(cls, doc: dict[str, Any]) -> Entry:
        return cls(
            key=(str(doc["publish_day"]), int(doc.get("shares", 0)), str(doc["_id"])),
            language=doc.get("language"),
            topics=frozenset(doc.get("topics") or ()),
            areas=_areas(frozenset(doc.get("topics") or ())),
            kind=doc.get("kind"),
            audience=Audience.of(
                doc.get("aud_groups", ()),
                doc.get("aud_locations", ()),
                doc.get("aud_languages", ()),
            ),
            live_until=doc["live_until"],
            rev=int(doc.get("rev", 0)),
            doc=doc,
        )


@lru_cache(maxsize=8192)
def _areas(topics: frozenset[str]) -> frozenset[str]:
    """An item's topics as areas are compared; one set shared by the items with the same
    topics, and the topics' own set when they are written as areas already."""
    areas = frozenset(area(topic) for topic in topics)
    return topics if areas == topics else areas


def _key(entry: Entry) -> Key:
    return entry.key


def _index_names(entry: Entry) -> list[tuple[str, str]]:
    names = [("topic", topic) for topic in entry.topics]
    if entry.language:
        names.append(("language", entry.language))
    if entry.kind:
        names.append(("kind", entry.kind))
    return names


def _day_end(day: str) -> Key:
    """A key after every key of `day` and before every key of the next."""
    return (day, sys.maxsize, "")


def _expertise_first(
    found: Iterator[Entry], areas: Collection[str], position: Position | None
) -> Iterator[tuple[int, Entry]]:
    """`found` (newest day first) with each day's items on one of `areas` first, as
    (match, entry), after `position`. Only one day's other items are held at a time."""
    rest: list[Entry] = []
    day: str | None = None

    def after(entry: Entry, match: int) -> bool:
        if position is None or entry.key[0] != position.day:
            return True
        if match != position.match:
            return match < position.match
        return entry.key < position.key

    def others() -> Iterator[tuple[int, Entry]]:
        for entry in rest:
            if after(entry, 0):
                yield 0, entry
        rest.clear()

    for entry in found:
        if entry.key[0] != day:
            yield from others()
            day = entry.key[0]
        if entry.areas.isdisjoint(areas):
            rest.append(entry)
        elif after(entry, 1):
            yield 1, entry
    yield from others()


def _descending(entries: list[Entry], before: Key | None) -> Iterator[Entry]:
    end = len(entries) if before is None else bisect_left(entries, before, key=_key)
    for index in range(end - 1, -1, -1):
        yield entries[index]


class LiveItems:
    """A tenant's live items in feed order, plus one list per language, topic and kind.

    Every list is sorted ascending by key and read from its end. A page walks the shortest
    lists that hold every possible match (a topic's, a kind's, or the viewer's languages'
    in the first phase), so a narrow filter does not walk the whole tenant; a cursor starts
    by binary search. Pages are computed without awaiting, so no change lands mid-page.
    """

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        ordered = sorted(entries, key=_key)
        self._all = ordered
        self._by_id = {entry.item_id: entry for entry in ordered}
        self._index: dict[tuple[str, str], list[Entry]] = {}
        for entry in ordered:
            for name in _index_names(entry):
                self._index.setdefault(name, []).append(entry)

    def __len__(self) -> int:
        return len(self._all)

    def __iter__(self) -> Iterator[Entry]:
        return iter(self._all)

    def get(self, item_id: str) -> Entry | None:
        return self._by_id.get(item_id)

    def put(self, entry: Entry) -> None:
        self.drop(entry.item_id)
        self._by_id[entry.item_id] = entry
        insort(self._all, entry, key=_key)
        for name in _index_names(entry):
            insort(self._index.setdefault(name, []), entry, key=_key)

    def drop(self, item_id: str) -> None:
        old = self._by_id.pop(item_id, None)
        if old is None:
            return
        del self._all[bisect_left(self._all, old.key, key=_key)]
        for name in _index_names(old):
            entries = self._index[name]
            del entries[bisect_left(entries, old.key, key=_key)]
            if not entries:
                del self._index[name]

    def page(
        self,
        viewer: Viewer,
        position: Position | None,
        limit: int,
        filters: Filters,
        now: datetime,
        areas: Collection[str] = (),
    ) -> tuple[list[Entry], Position | None]:
        """A page of `viewer`'s feed after `position`, and where the next one starts;
        within a day, items on one of `areas` (normalised by coaching.area) first."""
        languages = tuple(dict.fromkeys(viewer.languages))
        phases = 2 if languages else 1
        start = position.phase if position is not None else 0
        if start >= phases:
            raise NotThisFeed(f"no phase {start} in this feed")
        found: list[tuple[int, int, Entry]] = []
        for phase in range(start, phases):
            at = position if position is not None and phase == position.phase else None
            before: Key | None = None
            if at is not None:
                # With areas, a day is reordered: start after the whole of the cursor's day.
                before = _day_end(at.day) if areas else at.key
            admitted = (
                entry
                for entry in self._candidates(phase, languages, filters, before)
                if (
                    # Phase 0: the item's language is one of the viewer's; phase 1: it is not.
                    (not languages or (entry.language in languages) == (phase == 0))
                    and (filters.topic is None or filters.topic in entry.topics)
                    and (filters.kind is None or entry.kind == filters.kind)
                    and entry.live_until > now
                    and entry.audience.admits(viewer)
                )
            )
            ranked = _expertise_first(admitted, areas, at) if areas else ((0, e) for e in admitted)
            for match, entry in ranked:
                found.append((phase, match, entry))
                if len(found) > limit:
                    break
            if len(found) > limit:
                break
        more = len(found) > limit
        found = found[:limit]
        following = None
        if more and found:
            phase, match, last = found[-1]
            following = Position(phase, *last.key, match=match)
        return [entry for _, _, entry in found], following

    def _candidates(
        self, phase: int, languages: Sequence[str], filters: Filters, before: Key | None
    ) -> Iterator[Entry]:
        """Newest first, from the fewest entries that can hold every match."""
        options = [[self._all]]
        if filters.topic is not None:
            options.append([self._index.get(("topic", filters.topic), [])])
        if filters.kind is not None:
            options.append([self._index.get(("kind", filters.kind), [])])
        if phase == 0 and languages:
            options.append([self._index.get(("language", lang), []) for lang in languages])
        lists = min(options, key=lambda candidate: sum(map(len, candidate)))
        runs = [_descending(entries, before) for entries in lists if entries]
        if len(runs) == 1:
            return runs[0]
        return heapq.merge(*runs, key=_key, reverse=True)


@dataclass(frozen=True)
class FeedChange:
    """What one write changed in a tenant's feed."""

    # Items as written: their whole new state (a live item, or one that left the feed).
    items: tuple[dict[str, Any], ...] = ()
    # Share counts items reached.
    shares: tuple[tuple[str, int], ...] = ()
    # (employee, items they shared).
    marks: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # (employee, when they named them in ms since the epoch, their areas of expertise).
    areas: tuple[tuple[str, int, tuple[str, ...]], ...] = ()
    # People erased, by `contracts.erasure.person_key`: their marks and areas are dropped
    # (before this change's own marks and areas are applied). The change that erases a
    # person names them only so.
    forget: tuple[str, ...] = ()


class TenantFeed:
    """What the feed shows of one tenant: its live items, which items each employee
    already shared, and each employee's areas of expertise. Applying a change is idempotent
    and, but for erasures, order-free: an item only moves to a newer revision, share counts
    only grow, marks are only added, and a person's areas are only replaced by ones named
    later. Forgetting a person drops their marks and areas; what names them again after it
    (they came back and shared) is theirs anew, so a forget is applied in its place in the
    log's order."""

    def __init__(
        self,
        docs: Iterable[dict[str, Any]] = (),
        marks: Iterable[tuple[str, Iterable[str]]] = (),
        areas: Iterable[tuple[str, int, Iterable[str]]] = (),
        tenant: str = "",
    ) -> None:
        # Only to recognise the people an erasure names by their person key.
        self.tenant = tenant
        self.items = LiveItems(Entry.of(doc) for doc in docs if doc.get("status") == PUBLISHED)
        # Revisions of items that left the feed, so a late copy of an older revision
        # cannot bring one back.
        self._gone: dict[str, int] = {}
        self._marks: dict[str, tuple[str, ...]] = {}
        # One string object per item id, however many employees shared the item.
        self._ids: dict[str, str] = {}
        for employee, item_ids in marks:
            self.mark(employee, item_ids)
        self._areas: dict[str, tuple[int, frozenset[str]]] = {}
        for employee, stamp, named in areas:
            self.name_areas(employee, stamp, named)

    def areas_of(self, employee: str) -> frozenset[str]:
        held = self._areas.get(employee)
        return held[1] if held is not None else frozenset()

    def name_areas(self, employee: str, stamp: int, named: Iterable[str]) -> None:
        held = self._areas.get(employee)
        if held is None or stamp >= held[0]:
            self._areas[employee] = (stamp, frozenset(named))

    def shared_by(self, employee: str) -> frozenset[str]:
        return frozenset(self._marks.get(employee, ()))

    @property
    def employees_with_marks(self) -> int:
        return len(self._marks)

    def apply(self, change: FeedChange) -> None:
        if change.forget:
            self.forget(change.forget)
        for doc in change.items:
            self.put(doc)
        for item_id, shares in change.shares:
            self.raise_shares(item_id, shares)
        for employee, item_ids in change.marks:
            self.mark(employee, item_ids)
        for employee, stamp, named in change.areas:
            self.name_areas(employee, stamp, named)

    def forget(self, keys: Iterable[str]) -> None:
        """Drop the marks and areas of the people whose person key is among `keys`.

        The held employees are hashed one by one: erasures are rare, and about 0.1 s for
        100,000 employees is cheaper than keeping a key per employee in memory."""
        wanted = set(keys)
        doomed = {
            employee
            for held in (self._marks, self._areas)
            for employee in held
            if person_key(self.tenant, employee) in wanted
        }
        for employee in doomed:
            self._marks.pop(employee, None)
            self._areas.pop(employee, None)

    def put(self, doc: dict[str, Any]) -> None:
        """Take an item's state as written or read, unless a newer revision is held."""
        item_id, rev = str(doc["_id"]), int(doc.get("rev", 0))
        current = self.items.get(item_id)
        held = current.rev if current is not None else self._gone.get(item_id, -1)
        if rev < held:
            return
        if doc.get("status") != PUBLISHED:
            self.items.drop(item_id)
            self._gone[item_id] = rev
            return
        self._gone.pop(item_id, None)
        if current is not None and current.shares > int(doc.get("shares", 0)):
            doc = {**doc, "shares": current.shares}
        self.items.put(Entry.of(doc))

    def raise_shares(self, item_id: str, shares: int) -> None:
        current = self.items.get(item_id)
        if current is not None and shares > current.shares:
            self.items.put(Entry.of({**current.doc, "shares": shares}))

    def mark(self, employee: str, item_ids: Iterable[str]) -> None:
        held = self._marks.get(employee, ())
        new = [self._ids.setdefault(i, i) for i in item_ids if i not in held]
        if new:
            self._marks[employee] = (*held, *dict.fromkeys(new))
