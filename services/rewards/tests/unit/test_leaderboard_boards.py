"""Boards moved in place by employees' choices rank exactly as boards sorted afresh."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, datetime

from rewards.domain.ledger import Figures, LeaderboardChoice
from rewards.domain.rules import month_of
from rewards.service_layer.leaderboards import Period, Scope, Snapshot

NOW = datetime(2026, 3, 18, 12, 0, tzinfo=UTC)
BOARDS: list[tuple[Period, Scope, str]] = [
    ("all", "tenant", ""),
    ("month", "tenant", ""),
    ("week", "tenant", ""),
    ("all", "team", "t1"),
    ("month", "department", "sales"),
    ("all", "executives", ""),
]


def _docs(rng: random.Random) -> list[Figures]:
    return [
        Figures(
            employee_id=f"e{n:03}",
            # Few distinct figures, so that ties (ranked by employee id) are common.
            earned=rng.choice([0, 5, 10, 20]),
            month_key=month_of(NOW),
            month_points=rng.choice([0, 5, 10]),
            groups=tuple(rng.sample(["t1", "t2", "exec"], rng.randint(0, 2))),
            department=rng.choice(["sales", "it"]),
            hidden=rng.random() < 0.2,
            opted_in=rng.random() < 0.5,
        )
        for n in range(60)
    ]


def _snapshot(docs: list[Figures], opt_in: bool) -> Snapshot:
    return Snapshot(loaded_at=0.0, docs=docs, opt_in=opt_in, executive_groups=frozenset({"exec"}))


def test_choices_applied_in_place_rank_as_a_fresh_sort() -> None:
    rng = random.Random(7)
    for opt_in in (False, True):
        docs = _docs(rng)
        live = _snapshot([replace(d) for d in docs], opt_in)
        for key in BOARDS:
            live.board(*key, NOW)
        for _ in range(200):
            employee = rng.choice([*(d.employee_id for d in docs), "newcomer"])
            choice = LeaderboardChoice(hidden=rng.random() < 0.5, opt_in=rng.random() < 0.5)
            live.choose(employee, choice, NOW)
            fresh = _snapshot([replace(d) for d in live.docs], opt_in)
            for key in BOARDS:
                moved, sorted_ = live.board(*key, NOW), fresh.board(*key, NOW)
                assert (moved.keys, moved.employees) == (sorted_.keys, sorted_.employees)
                assert moved.position == sorted_.position
                assert [moved.rank(i) for i in range(len(moved.keys))] == [
                    sorted_.rank(i) for i in range(len(sorted_.keys))
                ]
