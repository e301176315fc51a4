"""The api's facts kept current: loaded once, then following the worker's fact log.

Every request asks for the table through `LiveFacts.fresh()`, which waits for a catch-up
that started after the request came in: a figure sees every fact stored before it was
asked for, as when it was read from the database. Catch-ups run one at a time, and all
the requests that arrive during one share the next.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable
from contextlib import suppress

from prometheus_client import Gauge, Histogram

from metrics.adapters.memory import FactTable
from metrics.adapters.mongo import MetricsRepository
from metrics.domain.facts import LogEntry, pseudonymized

log = logging.getLogger(__name__)

LOADED = Gauge("chorus_metrics_api_facts", "Facts the api holds in memory")
LOAD_SECONDS = Histogram(
    "chorus_metrics_api_load_seconds",
    "How long the api took to load the active generation's facts",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),
)


class LiveFacts:
    def __init__(self, repo: MetricsRepository, retention_seconds: float) -> None:
        self.repo = repo
        # How long the log keeps an entry; a catch-up reads what came since the last one.
        self.retention_seconds = retention_seconds
        self.caught_up_at = time.monotonic()
        self.table: FactTable | None = None
        self.erased: dict[str, str] = {}
        self.next_seq = 1
        self.rows = 0
        # The settings' counter as the last catch-up read it: settings and goals kept from
        # before it moved are read again.
        self.config = 0
        self._running: asyncio.Future[FactTable] | None = None
        self._queued: asyncio.Future[FactTable] | None = None

    def fresh(self) -> Awaitable[FactTable]:
        """The table, with every fact stored before this call."""
        if self._queued is None:
            self._queued = asyncio.ensure_future(self._after(self._running))
        return asyncio.shield(self._queued)

    async def _after(self, previous: asyncio.Future[FactTable] | None) -> FactTable:
        if previous is not None:
            with suppress(Exception):
                await previous
        # Callers from now on need a catch-up that starts after them: the next one.
        this = self._queued
        self._queued = None
        self._running = this
        return await self._catch_up()

    async def _catch_up(self) -> FactTable:
        generation, settled, head, self.config = await self.repo.read_pointers()
        if not settled and self.table is not None:
            # A replay still writes the new generation: the one held, which follows the
            # log as before, serves until it is done.
            generation = self.table.generation
        # Entries older than the log keeps may be gone unread: load again after so long.
        stale = time.monotonic() - self.caught_up_at > self.retention_seconds
        if self.table is None or self.table.generation != generation or stale:
            if stale and self.table is not None:
                log.warning("the fact log may have moved past what was read; loading again")
            await self._load(generation)
        elif head >= self.next_seq:
            await self._follow()
        self.caught_up_at = time.monotonic()
        assert self.table is not None
        return self.table

    async def _load(self, generation: int) -> None:
        started = time.monotonic()
        self.erased = await self.repo.erased()
        table = FactTable(generation)
        # Facts whose insert the scan passes by are in the log: what is logged from now on
        # is read while the scan goes on (the log keeps it for a short while only) and
        # applied after it. An entry written with its facts but after the last read below
        # has a number above every entry read, so following the log reaches it.
        # Every entry the log still keeps, too: a batch logged before the scan began may
        # have been stored in this generation after it (a worker writes a batch again
        # where the pointer moved during its write).
        first, head = 0, await self.repo.log_head()
        logged: list[LogEntry] = []
        read_at = time.monotonic()
        async for _ in self.repo.load(table):
            if time.monotonic() - read_at > self.retention_seconds / 4:
                logged += await self.repo.log_entries(first)
                first = max([first, *(e.seq + 1 for e in logged)])
                read_at = time.monotonic()
            await asyncio.sleep(0)
        logged += await self.repo.log_entries(first)
        self.table = table
        self.next_seq = max([head + 1, first, *(e.seq + 1 for e in logged)])
        for entry in logged:
            self._apply(entry)
        table.compact()
        self.rows = len(table.base_key)
        LOADED.set(self.rows)
        spent = time.monotonic() - started
        LOAD_SECONDS.observe(spent)
        log.info(
            "facts loaded",
            extra={"generation": generation, "facts": self.rows, "seconds": round(spent, 1)},
        )

    async def _follow(self) -> None:
        for entry in await self.repo.log_entries(self.next_seq):
            self._apply(entry)
            self.next_seq = max(self.next_seq, entry.seq + 1)

    def _apply(self, entry: LogEntry) -> None:
        table = self.table
        assert table is not None
        for tenant, key, pseudonym in entry.erasures:
            self.erased[key] = pseudonym
            employee = table.advocate_with_key(tenant, key)
            if employee is not None:
                table.erase(tenant, employee, pseudonym)
        if entry.rolled:
            # The retention job's: these days' engagement is now exactly these roll-ups.
            facts = pseudonymized(entry.facts, self.erased)
            for tenant in {rolled.tenant for rolled in entry.rolled}:
                days = [rolled.day for rolled in entry.rolled if rolled.tenant == tenant]
                table.replace_engagement(tenant, days, [f for f in facts if f["tenant"] == tenant])
            self.rows = len(table.base_key) + len(table.tail_start)
        else:
            self.rows += table.add(pseudonymized(entry.facts, self.erased))
        LOADED.set(self.rows)
