"""The feed served from memory: the same order, targeting and paging as the query it
replaced, and changes that apply in any order without going back in time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from typing import Any

from content.adapters import feed_view
from content.domain import feed
from contracts import audience
from contracts.erasure import person_key

NOW = datetime(2026, 3, 1, 12, tzinfo=UTC)
LATER = NOW + timedelta(days=30)


def _doc(item_id: str, day: str, shares: int = 0, **extra: Any) -> dict[str, Any]:
    aud = extra.pop("audience", {})
    return {
        "_id": item_id,
        "status": "published",
        "publish_day": day,
        "shares": shares,
        "language": extra.pop("language", None),
        "topics": extra.pop("topics", []),
        "kind": extra.pop("kind", "article"),
        "aud_groups": audience.axis(aud.get("groups", [])),
        "aud_locations": audience.axis(aud.get("locations", [])),
        "aud_languages": audience.language_axis(aud.get("languages", [])),
        "live_until": extra.pop("live_until", LATER),
        "rev": extra.pop("rev", 1),
        **extra,
    }


def _viewer(*languages: str, groups: tuple[str, ...] = (), location: str | None = None) -> Any:
    return audience.Viewer(frozenset(groups), location, languages)


def _ids(entries: list[feed.Entry]) -> list[str]:
    return [e.item_id for e in entries]


def _walk(items: feed.LiveItems, viewer: Any, limit: int, filters: feed.Filters) -> list[str]:
    walked: list[str] = []
    position = None
    while True:
        page, position = items.page(viewer, position, limit, filters, NOW)
        walked += _ids(page)
        if position is None:
            return walked


def _reference(docs: list[dict[str, Any]], viewer: Any, filters: feed.Filters) -> list[str]:
    """The feed as the MongoDB query defined it, written plainly."""
    visible = [
        d
        for d in docs
        if d["status"] == "published"
        and d["live_until"] > NOW
        and audience.admits(
            viewer,
            [g for g in d["aud_groups"] if g != "*"],
            [g for g in d["aud_locations"] if g != "*"],
            [g for g in d["aud_languages"] if g != "*"],
        )
        and (filters.topic is None or filters.topic in d["topics"])
        and (filters.kind is None or d["kind"] == filters.kind)
    ]
    key = lambda d: (d["publish_day"], d["shares"], d["_id"])  # noqa: E731
    mine = [d for d in visible if d["language"] in viewer.languages]
    rest = [d for d in visible if d["language"] not in viewer.languages]
    if not viewer.languages:
        mine, rest = [], visible
    return [d["_id"] for part in (mine, rest) for d in sorted(part, key=key, reverse=True)]


def test_pages_walk_the_same_feed_as_the_query_whatever_the_filters() -> None:
    rng = random.Random(7)
    docs = [
        _doc(
            f"{i:04x}",
            f"2026-02-{rng.randint(1, 5):02d}",
            shares=rng.choice([0, 0, 1, 2, 5]),
            language=rng.choice(["de", "en", "fr", None]),
            topics=rng.sample(["a", "b", "c"], rng.randint(0, 2)),
            kind=rng.choice(["article", "job"]),
            audience={
                "groups": rng.choice([[], ["sales"], ["hr"]]),
                "locations": rng.choice([[], [], ["berlin"]]),
                "languages": rng.choice([[], [], ["de"]]),
            },
            live_until=rng.choice([LATER, LATER, NOW, NOW - timedelta(days=1)]),
            status=rng.choice(["published"] * 5 + ["draft"]),
        )
        for i in range(300)
    ]
    items = feed.TenantFeed(docs).items
    viewers = [
        _viewer(),
        _viewer("de", groups=("sales",), location="berlin"),
        _viewer("en", "fr", groups=("hr",)),
        _viewer("de", "de"),
    ]
    for viewer in viewers:
        for filters in (
            feed.Filters(),
            feed.Filters(topic="a"),
            feed.Filters(kind="job"),
            feed.Filters(topic="b", kind="article"),
            feed.Filters(topic="none"),
        ):
            expected = _reference(docs, viewer, filters)
            assert _walk(items, viewer, 7, filters) == expected
            first, _ = items.page(viewer, None, 200, filters, NOW)
            assert _ids(first) == expected


def test_a_cursor_of_a_phase_the_viewer_lacks_is_refused() -> None:
    items = feed.TenantFeed([_doc("a", "2026-02-01")]).items
    position = feed.Position(1, "2026-02-01", 0, "a")
    try:
        items.page(_viewer(), position, 10, feed.Filters(), NOW)
    except feed.NotThisFeed:
        pass
    else:
        raise AssertionError("a second phase without languages")


def test_changes_apply_in_any_order_without_going_back() -> None:
    tenant = feed.TenantFeed([_doc("a", "2026-02-01", shares=3, rev=2)])
    # An older revision read late changes nothing; shares never go down.
    tenant.put(_doc("a", "2026-02-01", shares=1, rev=1, title="old"))
    entry = tenant.items.get("a")
    assert entry is not None and entry.rev == 2 and entry.shares == 3
    tenant.put(_doc("a", "2026-02-01", shares=0, rev=3, title="new"))
    entry = tenant.items.get("a")
    assert entry is not None and entry.doc["title"] == "new" and entry.shares == 3
    # Leaving the feed sticks against an older copy; coming back takes a newer revision.
    tenant.put(_doc("a", "2026-02-01", rev=4, status="archived"))
    tenant.put(_doc("a", "2026-02-01", rev=3))
    assert tenant.items.get("a") is None
    tenant.put(_doc("a", "2026-02-01", rev=6))
    assert tenant.items.get("a") is not None

    tenant.apply(
        feed.FeedChange(
            shares=(("a", 9), ("missing", 4)),
            marks=(("emp-1", ("a", "b")), ("emp-1", ("a",))),
        )
    )
    entry = tenant.items.get("a")
    assert entry is not None and entry.shares == 9
    assert tenant.shared_by("emp-1") == {"a", "b"}
    assert tenant.shared_by("emp-2") == frozenset()


def test_share_counts_reorder_a_day() -> None:
    tenant = feed.TenantFeed([_doc("a", "2026-02-01"), _doc("b", "2026-02-01")])
    page, _ = tenant.items.page(_viewer(), None, 10, feed.Filters(), NOW)
    assert _ids(page) == ["b", "a"]
    tenant.raise_shares("a", 2)
    page, _ = tenant.items.page(_viewer(), None, 10, feed.Filters(), NOW)
    assert _ids(page) == ["a", "b"]


def test_an_erasure_forgets_a_persons_marks_and_areas_by_their_person_key() -> None:
    held = feed.TenantFeed(
        [_doc("a", "2026-02-01", shares=2)],
        marks=[("emp-1", ["a"]), ("emp-2", ["a"])],
        areas=[("emp-1", 10, ["data"]), ("emp-3", 10, ["data"])],
        tenant="acme",
    )
    change = feed.FeedChange(forget=(person_key("acme", "emp-1"),))
    # The change names nobody; the same person in another tenant is someone else.
    assert "emp-1" not in repr(change)
    feed.TenantFeed(marks=[("emp-1", ["a"])], tenant="other").apply(change)
    held.apply(change)
    assert held.shared_by("emp-1") == frozenset() and held.areas_of("emp-1") == frozenset()
    assert held.shared_by("emp-2") == {"a"} and held.areas_of("emp-3") == {"data"}
    # Share counts are not the person's: they stay.
    entry = held.items.get("a")
    assert entry is not None and entry.shares == 2
    assert held.employees_with_marks == 1
    # Forgetting again, or someone who is not held, changes nothing.
    held.apply(change)
    held.apply(feed.FeedChange(forget=(person_key("acme", "nobody"),)))
    assert held.shared_by("emp-2") == {"a"}


def test_a_forget_drops_what_came_before_it_and_keeps_what_comes_after() -> None:
    held = feed.TenantFeed(tenant="acme")
    before = feed.FeedChange(marks=(("emp-1", ("a",)),), areas=(("emp-1", 10, ("data",)),))
    forget = feed.FeedChange(forget=(person_key("acme", "emp-1"),))
    # The person came back after the erasure and shared again.
    after = feed.FeedChange(marks=(("emp-1", ("b",)),))
    for change in (before, forget, after):
        held.apply(change)
    assert held.shared_by("emp-1") == {"b"} and held.areas_of("emp-1") == frozenset()
    # Applying the same log again from the start (a reader past a gap) ends the same.
    for change in (before, forget, after):
        held.apply(change)
    assert held.shared_by("emp-1") == {"b"} and held.areas_of("emp-1") == frozenset()
    # Within one change, the forget goes first.
    held.apply(feed.FeedChange(marks=(("emp-1", ("c",)),), forget=forget.forget))
    assert held.shared_by("emp-1") == {"c"}


def test_a_logged_change_reads_back_as_it_was_recorded() -> None:
    change = feed.FeedChange(
        shares=(("a", 2),),
        marks=(("emp-1", ("a", "b")),),
        areas=(("emp-1", 5, ("data",)),),
        forget=(person_key("acme", "emp-2"),),
    )
    entry = feed_view._entry("acme", change)
    # No array directly inside an array: FerretDB 1.x refuses to store one.
    for field in ("shares", "marks", "areas"):
        assert all(isinstance(row, dict) for row in entry[field])
    assert feed_view._change_of(entry) == change
    # Rows logged as arrays (by MongoDB, before) read the same.
    older = {
        "shares": [["a", 2]],
        "marks": [["emp-1", ["a", "b"]]],
        "areas": [["emp-1", 5, ["data"]]],
        "forget": list(change.forget),
    }
    assert feed_view._change_of(older) == change
    assert feed_view._named(entry) == feed_view._named(older) == {"emp-1"}
