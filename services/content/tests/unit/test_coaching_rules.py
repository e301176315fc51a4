"""Coaching's rules: areas as they are compared, the path's revisions and progress, the
table of areas with people and content, and the feed's order for someone with areas."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

import pytest

from content.domain import coaching, feed
from contracts import audience

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("Cloud", "cloud"),
        ("#cloud", "cloud"),
        ("  Cloud   Security ", "cloud security"),
        ("# Data", "data"),
        ("ÅRHUS", "århus"),
        ("   ", ""),
    ],
)
def test_an_area_is_compared_without_hash_case_or_extra_spaces(raw: str, kept: str) -> None:
    assert coaching.area(raw) == kept


def test_areas_drop_blanks_and_repeats_in_their_order() -> None:
    assert coaching.areas(["Data", "#data", "", "AI", "ai "]) == ["data", "ai"]


def test_too_many_or_too_long_areas_are_named() -> None:
    errors = coaching.area_errors([f"a{i}" for i in range(11)] + ["x" * 61])
    assert ("areas.11", "at most 60 characters") in errors
    assert ("areas", "at most 10 areas") in errors


def _ids() -> Any:
    numbers = count(1)
    return lambda: f"s{next(numbers)}"


def test_a_revision_keeps_ids_adds_new_ones_reorders_and_removes() -> None:
    first, errors = coaching.revise(
        [],
        [coaching.StepIn(None, {"en": "Why"}, {}), coaching.StepIn(None, {"en": "What"}, {})],
        _ids(),
    )
    assert not errors and [s.id for s in first] == ["s1", "s2"]
    second, errors = coaching.revise(
        first,
        [
            coaching.StepIn("s2", {"en": "What to share", "sv": "Vad"}, {"en": "Jobs"}),
            coaching.StepIn(None, {"en": "Am I bragging?"}, {}),
        ],
        lambda: "s9",
    )
    assert not errors
    assert [(s.id, dict(s.titles)) for s in second] == [
        ("s2", {"en": "What to share", "sv": "Vad"}),
        ("s9", {"en": "Am I bragging?"}),
    ]


@pytest.mark.parametrize(
    ("wanted", "field"),
    [
        ([coaching.StepIn("nope", {"en": "x"}, {})], "steps.0.id"),
        (
            [coaching.StepIn("s1", {"en": "x"}, {}), coaching.StepIn("s1", {"en": "y"}, {})],
            "steps.1.id",
        ),
        ([coaching.StepIn(None, {"en": "  "}, {})], "steps.0.titles"),
    ],
)
def test_a_revision_refuses_unknown_or_repeated_ids_and_untitled_steps(
    wanted: list[coaching.StepIn], field: str
) -> None:
    current = [coaching.Step("s1", {"en": "Why"})]
    _, errors = coaching.revise(current, wanted, _ids())
    assert field in [name for name, _ in errors]


def test_progress_counts_only_steps_still_on_the_path() -> None:
    steps = [coaching.Step("a", {"en": "A"}), coaching.Step("b", {"en": "B"})]
    assert coaching.progress(steps, ["a", "gone"]) == coaching.Progress(1, 2)
    assert coaching.progress(steps, ["a", "b"]).complete
    assert not coaching.progress([], []).complete


def test_a_step_speaks_the_persons_language_or_falls_back() -> None:
    step = coaching.Step("a", {"en": "Why", "sv": "Varför"}, {"en": "Because", "sv": "För att"})
    assert step.text(["sv"], "en") == ("sv", "Varför", "För att")
    assert step.text(["fi"], "en") == ("en", "Why", "Because")
    assert step.text(["fi"], "de")[0] == "en"


def test_coverage_puts_areas_with_people_and_no_content_first() -> None:
    rows = coaching.coverage(
        [["data", "ai"], ["data"], ["cloud"], ["ai"]],
        [{"data"}, {"data", "cloud"}, {"hiring"}],
    )
    assert [(r.area, r.people, r.live_items, r.uncovered) for r in rows] == [
        ("ai", 2, 0, True),
        ("data", 2, 2, False),
        ("cloud", 1, 1, False),
    ]


# -- the feed for someone with areas ----------------------------------------------------------


def _doc(item_id: str, day: str, shares: int, topics: list[str]) -> dict[str, Any]:
    return {
        "_id": item_id,
        "status": "published",
        "publish_day": day,
        "shares": shares,
        "language": "en",
        "topics": topics,
        "kind": "article",
        "aud_groups": ["*"],
        "aud_locations": ["*"],
        "aud_languages": ["*"],
        "live_until": NOW + timedelta(days=30),
        "rev": 1,
    }


VIEWER = audience.Viewer(frozenset(), None, ("en",))


def _walk(items: feed.LiveItems, limit: int, areas: set[str]) -> list[str]:
    walked: list[str] = []
    position = None
    while True:
        page, position = items.page(VIEWER, position, limit, feed.Filters(), NOW, areas)
        walked += [e.item_id for e in page]
        if position is None:
            return walked
        position = feed.Position.decode(position.encode())


def test_within_a_day_items_on_my_areas_come_first_but_never_above_a_newer_day() -> None:
    items = feed.LiveItems(
        feed.Entry.of(d)
        for d in [
            _doc("new-popular", "2026-03-01", 9, ["Hiring"]),
            _doc("new-mine", "2026-03-01", 0, ["#Data"]),
            _doc("old-mine", "2026-02-28", 0, ["data"]),
            _doc("old-popular", "2026-02-28", 5, ["events"]),
        ]
    )
    assert _walk(items, 10, set()) == ["new-popular", "new-mine", "old-popular", "old-mine"]
    assert _walk(items, 10, {"data"}) == ["new-mine", "new-popular", "old-mine", "old-popular"]


@pytest.mark.parametrize("limit", [1, 2, 3, 7])
def test_paging_with_areas_walks_the_same_order_as_one_page(limit: int) -> None:
    rng = random.Random(limit)
    days = [f"2026-02-{d:02d}" for d in range(20, 29)]
    topics = ["data", "ai", "cloud", "events"]
    docs = [
        _doc(f"i{n:03d}", rng.choice(days), rng.randrange(4), rng.sample(topics, rng.randint(0, 2)))
        for n in range(120)
    ]
    items = feed.LiveItems(feed.Entry.of(d) for d in docs)
    areas = {"data", "ai"}
    whole = _walk(items, 500, areas)
    assert _walk(items, limit, areas) == whole

    def rank(doc: dict[str, Any]) -> tuple[str, bool, int, str]:
        mine = not areas.isdisjoint(coaching.area(t) for t in doc["topics"])
        return (doc["publish_day"], mine, doc["shares"], doc["_id"])

    assert whole == [d["_id"] for d in sorted(docs, key=rank, reverse=True)]


def test_a_persons_areas_are_replaced_only_by_ones_named_later() -> None:
    held = feed.TenantFeed(areas=[("e1", 10, ["data"])])
    held.apply(feed.FeedChange(areas=(("e1", 5, ("old",)),)))
    assert held.areas_of("e1") == {"data"}
    held.apply(feed.FeedChange(areas=(("e1", 11, ()),)))
    assert held.areas_of("e1") == frozenset()
