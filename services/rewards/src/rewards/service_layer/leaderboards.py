"""Leaderboards served from memory: a per-tenant snapshot of the standings, refreshed in
the background, with each board sorted once per snapshot.

"Top N plus my rank" is then a slice and a binary search, whatever the number of
employees; ranking in the database would count every employee above the caller on each
request.

An employee's own choice (hidden, opted in) moves only their row in the boards already
sorted, at once; it never drops the snapshot, or any employee could make every board of
the tenant be read and sorted again on each request. Only admins' settings (who is ranked
at all) drop it.
"""

from __future__ import annotations

import asyncio
import logging
import time
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from chassis.domain_errors import Invalid
from contracts.erasure import is_pseudonym
from rewards.adapters.mongo import RewardsRepository
from rewards.domain.ledger import Figures, LeaderboardChoice
from rewards.domain.rules import month_of, week_of

Period = Literal["all", "month", "week"]
WARM_PERIODS: tuple[Period, ...] = ("all", "month", "week")
Scope = Literal["tenant", "team", "department", "location", "executives"]


log = logging.getLogger(__name__)


def board_of(
    scope: Scope, scope_id: str | None, location: str | None, groups: Iterable[str]
) -> str:
    """Which board of `scope` is asked for: `scope_id`, or else the asker's own location,
    or their team when they are in one only; `Invalid` when a scope needs one and none is
    known. Scopes with one board per tenant need none."""
    if scope not in ("team", "department", "location") or scope_id:
        return scope_id or ""
    if scope == "location" and location:
        return location
    teams = list(groups)
    if scope == "team" and len(teams) == 1:
        return teams[0]
    raise Invalid(errors=[("scope_id", f"required for scope '{scope}'")])


@dataclass
class Board:
    keys: list[int]  # negated points, ascending
    employees: list[str]
    position: dict[str, int]

    def rank(self, index: int) -> int:
        """Standard competition ranking: ties share the better rank."""
        return bisect_left(self.keys, self.keys[index]) + 1

    def row(self, index: int) -> dict[str, Any]:
        return {
            "rank": self.rank(index),
            "employee_id": self.employees[index],
            "points": -self.keys[index],
        }

    def remove(self, employee_id: str) -> None:
        index = self.position.pop(employee_id, None)
        if index is not None:
            del self.keys[index], self.employees[index]
            self._renumber(index)

    def insert(self, employee_id: str, points: int) -> None:
        """Put a row where sorting would: by points, then employee id."""
        key = -points
        low, high = bisect_left(self.keys, key), bisect_right(self.keys, key)
        index = bisect_left(self.employees, employee_id, low, high)
        self.keys.insert(index, key)
        self.employees.insert(index, employee_id)
        self._renumber(index)

    def _renumber(self, start: int) -> None:
        for index in range(start, len(self.employees)):
            self.position[self.employees[index]] = index


@dataclass
class Snapshot:
    loaded_at: float
    docs: list[Figures]
    opt_in: bool
    executive_groups: frozenset[str]
    boards: dict[tuple[Period, Scope, str], Board] = field(default_factory=dict)
    by_employee: dict[str, Figures] = field(init=False)

    def __post_init__(self) -> None:
        self.by_employee = {doc.employee_id: doc for doc in self.docs}

    def choose(self, employee_id: str, choice: LeaderboardChoice, now: datetime) -> None:
        """Apply an employee's own choice to the boards sorted so far."""
        doc = self.by_employee.get(employee_id)
        if doc is None:
            doc = self.by_employee[employee_id] = Figures(employee_id)
            self.docs.append(doc)
        _choose(doc, choice)
        month, week = month_of(now), week_of(now)
        for (period, scope, scope_id), board in self.boards.items():
            board.remove(employee_id)
            points = self._points(doc, period, scope, scope_id, month, week)
            if points is not None:
                board.insert(employee_id, points)

    def board(self, period: Period, scope: Scope, scope_id: str, now: datetime) -> Board:
        key = (period, scope, scope_id)
        if key not in self.boards:
            self.boards[key] = self._build(period, scope, scope_id, now)
        return self.boards[key]

    def _build(self, period: Period, scope: Scope, scope_id: str, now: datetime) -> Board:
        month, week = month_of(now), week_of(now)
        rows: list[tuple[int, str]] = []
        for doc in self.docs:
            points = self._points(doc, period, scope, scope_id, month, week)
            if points is not None:
                rows.append((-points, doc.employee_id))
        rows.sort()
        employees = [employee for _, employee in rows]
        return Board(
            keys=[key for key, _ in rows],
            employees=employees,
            position={employee: i for i, employee in enumerate(employees)},
        )

    def _points(
        self,
        doc: Figures,
        period: Period,
        scope: Scope,
        scope_id: str,
        month: str,
        week: str,
    ) -> int | None:
        """An employee's points on a board, or None when the board leaves them out."""
        # An erased person's points go on under a pseudonym, on no board.
        if doc.hidden or doc.opted_out or is_pseudonym(doc.employee_id):
            return None
        if self.opt_in and not doc.opted_in:
            return None
        groups = doc.groups
        executive = bool(self.executive_groups.intersection(groups))
        if executive != (scope == "executives"):
            return None
        if scope == "team" and scope_id not in groups:
            return None
        if scope == "department" and doc.department != scope_id:
            return None
        if scope == "location" and doc.location != scope_id:
            return None
        if period == "all":
            points = doc.earned
        elif period == "month":
            points = doc.month_points if doc.month_key == month else 0
        else:
            points = doc.week_points if doc.week_key == week else 0
        return points


def _choose(row: Figures, choice: LeaderboardChoice) -> None:
    """An employee's choice on their row: an opt-in they did not state stays as it was."""
    row.hidden = choice.hidden
    if choice.opt_in is not None:
        row.opted_in = choice.opt_in


class Leaderboards:
    def __init__(
        self,
        repo: RewardsRepository,
        refresh_seconds: float,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._clock = clock
        self._refresh_seconds = refresh_seconds
        self._snapshots: dict[str, Snapshot] = {}
        self._loading: dict[str, asyncio.Task[Snapshot]] = {}
        # Per tenant, the choices employees made lately, by when: a load that started before
        # one may have read the profiles without it.
        self._choices: dict[str, dict[str, tuple[float, LeaderboardChoice]]] = {}

    async def _load(self, tenant: str) -> Snapshot:
        started = time.monotonic()
        config = await self._repo.tenant(tenant)
        docs = await self._repo.tenant_figures(tenant)
        profiles = await self._repo.tenant_profiles(tenant)
        reversed_points = await self._repo.tenant_clawbacks(tenant)
        by_employee = {doc.employee_id: doc for doc in docs}
        for employee, profile in profiles.items():
            doc = by_employee.setdefault(employee, Figures(employee))
            doc.hidden = profile.hidden
            doc.opted_in = bool(profile.opt_in)
        for clawback in reversed_points:
            if clawback.employee_id not in by_employee:
                continue
            doc = by_employee[clawback.employee_id]
            points, dated = clawback.points, clawback.awarded_at
            doc.earned -= points
            if doc.month_key == month_of(dated):
                doc.month_points -= points
            if doc.week_key == week_of(dated):
                doc.week_points -= points
        docs = list(by_employee.values())
        snapshot = Snapshot(
            loaded_at=time.monotonic(),
            docs=docs,
            opt_in=config.leaderboard_opt_in,
            executive_groups=frozenset(config.executive_groups),
        )
        choices = self._choices.get(tenant, {})
        for employee, (at, choice) in list(choices.items()):
            if at < started:
                del choices[employee]  # stored before this load read the profiles
            else:
                snapshot.choose(employee, choice, self._clock())
        self._snapshots[tenant] = snapshot
        return snapshot

    async def snapshot(self, tenant: str) -> Snapshot:
        """The tenant's snapshot; a stale one is served while a fresh one loads."""
        current = self._snapshots.get(tenant)
        loading = self._loading.get(tenant)
        if loading is None or loading.done():
            fresh = current is not None and (
                time.monotonic() - current.loaded_at < self._refresh_seconds
            )
            if not fresh:
                loading = asyncio.create_task(self._load(tenant))
                self._loading[tenant] = loading
        if current is None:
            assert loading is not None
            return await asyncio.shield(loading)
        return current

    async def warm(self, tenants: Iterable[str]) -> None:
        """Load the snapshots of `tenants` before anyone asks: after a start, no request
        waits for a whole tenant to be read and sorted (the api is ready once this is done)."""
        for tenant in tenants:
            started = time.monotonic()
            snapshot = await self.snapshot(tenant)
            # The company-wide boards are the ones most asked for: sorted now, not by the
            # first person who asks (a million rows take seconds to sort).
            for period in WARM_PERIODS:
                snapshot.board(period, "tenant", "", self._clock())
                await asyncio.sleep(0)
            log.info(
                "leaderboards loaded",
                extra={
                    "tenant": tenant,
                    "employees": len(snapshot.docs),
                    "seconds": round(time.monotonic() - started, 1),
                },
            )

    def forget(self, tenant: str) -> None:
        """Drop a tenant's snapshot, so the next read sees a change at once. For admins'
        settings only: the next read loads and sorts the whole tenant again."""
        self._snapshots.pop(tenant, None)

    def choose(self, tenant: str, employee_id: str, choice: LeaderboardChoice) -> None:
        """Show an employee's own choice, already stored, at once: their row moves in the
        boards sorted so far; nothing is loaded or sorted again."""
        self._choices.setdefault(tenant, {})[employee_id] = (time.monotonic(), choice)
        snapshot = self._snapshots.get(tenant)
        if snapshot is not None:
            snapshot.choose(employee_id, choice, self._clock())

    async def query(
        self,
        tenant: str,
        employee_id: str,
        period: Period,
        scope: Scope,
        scope_id: str,
        limit: int,
        neighbours: int,
    ) -> dict[str, Any]:
        snapshot = await self.snapshot(tenant)
        board = snapshot.board(period, scope, scope_id, self._clock())
        top = [board.row(i) for i in range(min(limit, len(board.employees)))]
        me = None
        index = board.position.get(employee_id)
        if index is not None:
            low, high = max(index - neighbours, 0), min(index + neighbours + 1, len(board.keys))
            me = {**board.row(index), "neighbours": [board.row(i) for i in range(low, high)]}
        return {
            "period": period,
            "scope": scope,
            "size": len(board.employees),
            "top": top,
            "me": me,
        }
