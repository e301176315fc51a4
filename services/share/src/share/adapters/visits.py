"""Which clicks are unique: a visitor's first click on a link within the hour, exactly once.

Decided by share's worker, off the redirect's path: the redirect answers once its click's
LinkClicked is durable, and the worker that owns the visitor's partition decides here, in
the order the clicks came. The store's `visits` hold, per link and visitor, the time of the
last unique click and the id of the click that claimed it:

- a visit is claimed by writing it (its unique `_id` settles a race with a worker that
  held the partition a moment ago), and moved forward only from the value that was read;
- a click delivered again (the worker stopped after deciding and before committing) finds
  its own id on the visit and is unique again, so its EngagementObserved, published under
  the same id, says the same thing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from cachetools import LRUCache
from prometheus_client import Counter
from pymongo.errors import BulkWriteError

from share.adapters.mongo import ShareRepository
from share.domain.clicks import is_unique

DECIDED = Counter(
    "chorus_share_click_decisions_total",
    "Clicks whose uniqueness share's worker decided, by outcome",
    ["outcome"],
)
_UNIQUE, _REPEAT = DECIDED.labels("unique"), DECIDED.labels("repeat")
_FOREIGN = DECIDED.labels("not-ours")


@dataclass
class Click:
    """One click to decide: `key` is the link and visitor, `id` the click's own."""

    key: str
    id: str
    at: datetime
    unique: bool = False


@dataclass(frozen=True)
class _Visit:
    at: datetime
    by: str | None


class Visits:
    def __init__(self, repo: ShareRepository, max_recent: int = 200_000) -> None:
        self._repo = repo
        # key -> the last unique click this process decided or read: a visitor's repeats
        # within the hour cost no query while this process owns their partition.
        self._recent: LRUCache[str, _Visit] = LRUCache(maxsize=max_recent)
        # Share -> whether this database holds it: a link clicked again costs no query. Both
        # answers last: a click comes only after its share was stored (the redirect found it).
        self._ours: LRUCache[str, bool] = LRUCache(maxsize=100_000)

    async def ours(self, share_ids: Sequence[str]) -> set[str]:
        """Those of `share_ids` this deployment made. A click on any other share is not
        ours to decide (another deployment's worker on the same Kafka, as in the tests)."""
        unknown = list({s for s in share_ids if s not in self._ours})
        if unknown:
            found = await self._repo.existing_shares(unknown)
            for share_id in unknown:
                self._ours[share_id] = share_id in found
        held = {s for s in share_ids if self._ours.get(s)}
        _FOREIGN.inc(sum(1 for s in share_ids if s not in held))
        return held

    async def decide(self, clicks: Sequence[Click]) -> None:
        """Set `unique` on each click, in order; the store agrees before this returns."""
        undecided: list[Click] = []
        for click in clicks:
            recent: _Visit | None = self._recent.get(click.key)
            if recent is not None and not is_unique(recent.at, click.at) and recent.by != click.id:
                click.unique = False
            else:
                undecided.append(click)
        if undecided:
            await self._decide_in_store(undecided)
        unique = sum(1 for click in clicks if click.unique)
        _UNIQUE.inc(unique)
        _REPEAT.inc(len(clicks) - unique)

    async def _decide_in_store(self, clicks: list[Click]) -> None:
        # Almost every key here is a visitor new to the link: claimed by writing its visit.
        # Only a visit the store holds already is read (FerretDB finds a missing `_id` by
        # reading the whole collection).
        firsts: dict[str, Click] = {}
        for click in clicks:
            if click.key not in self._recent:
                firsts.setdefault(click.key, click)
        claimed = await self._claim(firsts)
        for key in claimed:
            self._recent[key] = _Visit(firsts[key].at, firsts[key].id)
        rest = [click for click in clicks if click.key not in claimed]
        for click in clicks:
            if click.key in claimed:
                click.unique = click is firsts[click.key]
        if not rest:
            return
        keys = list({click.key for click in rest})
        stored = {
            doc["_id"]: _Visit(doc["at"], doc.get("by"))
            async for doc in self._repo.visits.find({"_id": {"$in": keys}})
        }
        last: dict[str, _Visit | None] = {key: stored.get(key) for key in keys}
        # key -> (the click that claims it now, the visit it replaces)
        claims: dict[str, tuple[Click, _Visit | None]] = {}
        for click in rest:
            seen = last[click.key]
            if seen is not None and seen.by == click.id:
                click.unique = True  # delivered again: it claimed the visit before
            elif seen is None or is_unique(seen.at, click.at):
                click.unique = True
                before = claims[click.key][1] if click.key in claims else seen
                claims[click.key] = (click, before)
                last[click.key] = _Visit(click.at, click.id)
            else:
                click.unique = False
        fresh = [(key, click) for key, (click, before) in claims.items() if before is None]
        if fresh:
            try:
                await self._repo.visits.insert_many(
                    [{"_id": key, "at": click.at, "by": click.id} for key, click in fresh],
                    ordered=False,
                )
            except BulkWriteError as exc:
                # Stored meanwhile by the worker that held the partition before.
                for error in exc.details.get("writeErrors", []):
                    key, click = fresh[error["index"]]
                    click.unique = False
                    last[key] = None
        moved = [(k, c, b) for k, (c, b) in claims.items() if b is not None]
        if moved:
            won = await self._claim_successors(moved)
            for key, click, before in moved:
                click.unique = click.id in won
                if click.unique:
                    await self._repo.visits.update_one(
                        {"_id": key, "at": before.at}, {"$set": {"at": click.at, "by": click.id}}
                    )
                else:
                    last[key] = None
        for key, visit in last.items():
            if visit is not None:
                self._recent[key] = visit

    async def _claim_successors(self, moved: list[tuple[str, Click, _Visit]]) -> set[str]:
        """The ids of the clicks that won their visit's next unique click.

        Each stored visit has one successor at most, settled by a unique `_id`: `key@the
        visit's time`, written beside the visits (and purged with them). A conditional
        update alone would not do: the MongoDB-wire server we test with lets two concurrent
        updates of one document both match. A click delivered again finds its own claim.
        """
        docs: list[dict[str, Any]] = [
            {"_id": f"{key}@{_stamp(before.at)}", "at": click.at, "by": click.id}
            for key, click, before in moved
        ]
        try:
            await self._repo.visits.insert_many(docs, ordered=False)
        except BulkWriteError as exc:
            taken = [docs[error["index"]]["_id"] for error in exc.details.get("writeErrors", [])]
            holders = {
                doc["_id"]: doc.get("by")
                async for doc in self._repo.visits.find({"_id": {"$in": taken}})
            }
            return {doc["by"] for doc in docs if holders.get(doc["_id"], doc["by"]) == doc["by"]}
        return {doc["by"] for doc in docs}

    async def _claim(self, firsts: dict[str, Click]) -> set[str]:
        """The keys of `firsts` whose visit was written now: nobody had stored one."""
        if not firsts:
            return set()
        keys = list(firsts)
        try:
            await self._repo.visits.insert_many(
                [{"_id": key, "at": firsts[key].at, "by": firsts[key].id} for key in keys],
                ordered=False,
            )
        except BulkWriteError as exc:
            failed = {keys[error["index"]] for error in exc.details.get("writeErrors", [])}
            return set(keys) - failed
        return set(keys)


def _stamp(at: datetime) -> str:
    """A stored time as the same text whichever client read it (aware or naive UTC)."""
    return (at.astimezone(UTC) if at.tzinfo else at).strftime("%Y-%m-%dT%H:%M:%S.%f")
