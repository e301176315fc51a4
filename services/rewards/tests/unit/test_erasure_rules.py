"""What an erasure makes of a standing, as pure functions: two halves of one employee's
standing add up, and the one under the pseudonym keeps the rules' memory, not the person."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from contracts.erasure import pseudonym as platform_pseudonym
from rewards.adapters.events import FOLDED, erased_standing_doc, standing_record_of
from rewards.domain.ledger import Standing, StandingRecord, merged
from rewards.domain.rules import DailyUse
from rewards.domain.suggestions import pseudonym


def test_rewards_names_an_erased_person_as_every_service_does() -> None:
    for seed in ("event-1", "01J8Z6", ""):
        assert pseudonym(seed) == platform_pseudonym(seed)


def test_two_halves_of_a_standing_add_up() -> None:
    kept = Standing(
        tenant="t",
        employee_id="erased-1",
        earned=3,
        month_key="2026-02",
        month_points=3,
        week_key="2026-W06",
        week_points=3,
        days={"2026-02-02": DailyUse("2026-02-02", {"click": 3}, 3)},
        shares=0,
        badges=frozenset({"recruiting-hero"}),
        challenges={"spring": 1},
    )
    erased = Standing(
        tenant="t",
        employee_id="e1",
        earned=40,
        month_key="2026-02",
        month_points=20,
        week_key="2026-W05",
        week_points=20,
        days={
            "2026-01-20": DailyUse("2026-01-20", {"share": 20}, 20),
            "2026-02-02": DailyUse("2026-02-02", {"share": 10, "click": 2}, 12),
        },
        shares=4,
        streak=2,
        streak_week="2026-W05",
        badges=frozenset({"first-share"}),
        challenges={"spring": 2, "autumn": 1},
    )
    both = merged(kept, erased)
    assert (both.tenant, both.employee_id, both.earned, both.shares) == ("t", "erased-1", 43, 4)
    # The same month adds up; of two weeks, the later one's points are this week's.
    assert (both.month_key, both.month_points) == ("2026-02", 23)
    assert (both.week_key, both.week_points) == ("2026-W06", 3)
    assert both.days["2026-02-02"] == DailyUse("2026-02-02", {"click": 5, "share": 10}, 15)
    assert both.days["2026-01-20"].total == 20
    assert (both.streak, both.streak_week) == (2, "2026-W05")
    assert both.badges == {"recruiting-hero", "first-share"}
    assert both.challenges == {"spring": 3, "autumn": 1}


def _doc(employee: str, earned: int, marks: dict[str, int], **more: object) -> dict:
    return {
        "_id": f"t:{employee}",
        "tenant": "t",
        "employee_id": employee,
        "earned": earned,
        "month_key": "2026-02",
        "month_points": earned,
        "days": json.dumps({"2026-02-02": [earned, {"share": earned}]}),
        "_wm": marks,
        **more,
    }


def _record(doc: dict) -> StandingRecord:
    return standing_record_of(doc["tenant"], doc["employee_id"], doc)


def test_the_standing_under_the_pseudonym_keeps_the_rules_memory_not_the_person() -> None:
    first = datetime(2026, 1, 5, tzinfo=UTC)
    erased = _doc(
        "e1",
        30,
        {"post-0": 7, "optout-0": 2},
        groups=["sales"],
        department="Sales",
        location="Oslo",
        opted_out=False,
        badges={"first-share": {"name": "First share", "earned_at": first}},
    )
    # Alone: a copy under the pseudonym, off the leaderboards, without scopes.
    alone = erased_standing_doc("t", "erased-1", _record(erased), None, "key-1")
    assert alone["_id"] == "t:erased-1" and alone["employee_id"] == "erased-1"
    assert (alone["earned"], alone["month_points"], alone["_wm"]) == (30, 30, erased["_wm"])
    assert alone["opted_out"] is True and alone[FOLDED] == ["key-1"]
    assert not {"groups", "department", "location"} & set(alone)
    assert "e1" not in json.dumps(alone, default=str)
    # With what came in under the pseudonym already: added up, watermarks the later.
    later = datetime(2026, 2, 2, tzinfo=UTC)
    kept = _doc(
        "erased-1",
        2,
        {"post-0": 9, "clicks-0": 4},
        opted_out=True,
        badges={"first-share": {"name": "First share", "earned_at": later}},
    )
    both = erased_standing_doc("t", "erased-1", _record(erased), _record(kept), "key-1")
    assert (both["earned"], both["month_points"]) == (32, 32)
    assert both["_wm"] == {"post-0": 9, "clicks-0": 4, "optout-0": 2}
    assert both["badges"]["first-share"]["earned_at"] == first
    assert json.loads(both["days"]) == {"2026-02-02": [32, {"share": 32}]}
