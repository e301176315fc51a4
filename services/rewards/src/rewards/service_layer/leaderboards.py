"""Leaderboards served from memory: a per-tenant snapshot of the standings, refreshed in
the background, with each board sorted once per snapshot.

"Top N plus my rank" is then a slice and a binary search, whatever the number of
employees; ranking in the database would count every employee above the caller on each
request.
"""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_left
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

from rewards.adapters.mongo import RewardsRepository
from rewards.domain.rules import month_of, week_of

Period = Literal["all", "month", "week"]
Scope = Literal["tenant", "team", "department", "location", "executives"]
FIELDS = (
    "employee_id",
    "earned",
    "month_key",
    "month_points",
    "week_key",
    "week_points",
    "groups",
    "department",
    "location",
    "opted_out",
)


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


@dataclass
class Snapshot:
    loaded_at: float
    docs: list[dict[str, Any]]
    opt_in: bool
    executive_groups: frozenset[str]
    boards: dict[tuple[str, str, str], Board] = field(default_factory=dict)

    def board(self, period: Period, scope: Scope, scope_id: str, now: datetime) -> Board:
        key = (period, scope, scope_id)
        if key not in self.boards:
            self.boards[key] = self._build(period, scope, scope_id, now)
        return self.boards[key]

    def _build(self, period: Period, scope: Scope, scope_id: str, now: datetime) -> Board:
        month, week = month_of(now), week_of(now)
        rows: list[tuple[int, str]] = []
        for doc in self.docs:
            if doc.get("hidden") or doc.get("opted_out"):
                continue
            if self.opt_in and not doc.get("leaderboard_opt_in"):
                continue
            groups = doc.get("groups") or []
            executive = bool(self.executive_groups.intersection(groups))
            if executive != (scope == "executives"):
                continue
            if scope == "team" and scope_id not in groups:
                continue
            if scope in ("department", "location") and doc.get(scope) != scope_id:
                continue
            if period == "all":
                points = doc.get("earned", 0)
            elif period == "month":
                points = doc.get("month_points", 0) if doc.get("month_key") == month else 0
            else:
                points = doc.get("week_points", 0) if doc.get("week_key") == week else 0
            rows.append((-points, doc["employee_id"]))
        rows.sort()
        employees = [employee for _, employee in rows]
        return Board(
            keys=[key for key, _ in rows],
            employees=employees,
            position={employee: i for i, employee in enumerate(employees)},
        )


class Leaderboards:
    def __init__(self, repo: RewardsRepository, refresh_seconds: float) -> None:
        self._repo = repo
        self._refresh_seconds = refresh_seconds
        self._snapshots: dict[str, Snapshot] = {}
        self._loading: dict[str, asyncio.Task[Snapshot]] = {}

    async def _load(self, tenant: str) -> Snapshot:
        config = await self._repo.tenant(tenant)
        docs = await self._repo.tenant_standings(tenant, FIELDS)
        profiles = await self._repo.tenant_profiles(tenant)
        reversed_points = await self._repo.tenant_clawbacks(tenant)
        by_employee = {doc["employee_id"]: doc for doc in docs}
        for employee, profile in profiles.items():
            doc = by_employee.setdefault(employee, {"employee_id": employee})
            doc["hidden"] = profile.get("hidden", False)
            doc["leaderboard_opt_in"] = profile.get("leaderboard_opt_in", False)
        for clawback in reversed_points:
            if clawback["employee_id"] not in by_employee:
                continue
            doc = by_employee[clawback["employee_id"]]
            points, at = clawback["points"], clawback["awarded_at"]
            doc["earned"] = doc.get("earned", 0) - points
            if doc.get("month_key") == month_of(at):
                doc["month_points"] = doc.get("month_points", 0) - points
            if doc.get("week_key") == week_of(at):
                doc["week_points"] = doc.get("week_points", 0) - points
        docs = list(by_employee.values())
        snapshot = Snapshot(
            loaded_at=time.monotonic(),
            docs=docs,
            opt_in=bool(config.get("leaderboard_opt_in")),
            executive_groups=frozenset(config.get("executive_groups") or []),
        )
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

    def forget(self, tenant: str) -> None:
        """Drop a tenant's snapshot, so the next read sees a change at once."""
        self._snapshots.pop(tenant, None)

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
        board = snapshot.board(period, scope, scope_id, datetime.now(UTC))
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
