"""One targeting rule for every service, from a table: the rule itself
(`contracts.audience`), content's feed and its stored-axis query (an item asked for by id),
and share's check of who may share an item all say the same for every row."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from content.adapters.mongo import visibility
from content.domain import feed
from contracts.audience import Viewer, admits, axis, language_axis
from share.domain.links import targeted


def _viewer(groups: tuple[str, ...] = (), location: str | None = None, *languages: str) -> Viewer:
    return Viewer(frozenset(groups), location, tuple(languages))


# (groups, locations, languages) of the item, the viewer, whether the item is for them.
TABLE: list[tuple[tuple[list[str], list[str], list[str]], Viewer, bool]] = [
    (([], [], []), _viewer(), True),
    (([], [], []), _viewer(("sales",), "oslo", "nb"), True),
    ((["sales"], [], []), _viewer(("sales", "hr")), True),
    ((["sales"], [], []), _viewer(("hr",)), False),
    ((["sales"], [], []), _viewer(), False),
    (([], ["oslo"], []), _viewer((), "oslo"), True),
    (([], ["oslo"], []), _viewer((), "bergen"), False),
    (([], ["oslo"], []), _viewer(), False),
    # Languages compare by their primary subtag, both ways, case aside.
    (([], [], ["de"]), _viewer((), None, "de-DE"), True),
    (([], [], ["de-DE"]), _viewer((), None, "de"), True),
    (([], [], ["en-GB"]), _viewer((), None, "en-US"), True),
    (([], [], ["EN"]), _viewer((), None, "en"), True),
    (([], [], ["de"]), _viewer((), None, "fr", "de-AT"), True),
    (([], [], ["de"]), _viewer((), None, "fr"), False),
    (([], [], ["de"]), _viewer(), False),
    # Every axis must hold.
    ((["sales"], ["oslo"], ["nb"]), _viewer(("sales",), "oslo", "nb-NO"), True),
    ((["sales"], ["oslo"], ["nb"]), _viewer(("sales",), "bergen", "nb-NO"), False),
    ((["sales"], ["oslo"], ["nb"]), _viewer(("hr",), "oslo", "nb"), False),
    # Groups and locations compare as written.
    ((["Sales"], [], []), _viewer(("sales",)), False),
]


@pytest.mark.parametrize(("axes", "viewer", "expected"), TABLE)
def test_the_rule(axes: tuple[list[str], list[str], list[str]], viewer: Viewer, expected: bool):
    assert admits(viewer, *axes) is expected


@pytest.mark.parametrize(("axes", "viewer", "expected"), TABLE)
def test_share_decides_who_may_share_by_the_rule(
    axes: tuple[list[str], list[str], list[str]], viewer: Viewer, expected: bool
) -> None:
    groups, locations, languages = axes
    audience = {"groups": groups, "locations": locations, "languages": languages}
    assert targeted(audience, viewer) is expected


def _stored(axes: tuple[list[str], list[str], list[str]]) -> dict[str, Any]:
    """An item as content stores it (see content's `_validated`)."""
    groups, locations, languages = axes
    return {
        "_id": "0190000000001abcdef",
        "publish_day": "2026-12-01",
        "live_until": datetime.now(UTC) + timedelta(days=1),
        "aud_groups": axis(groups),
        "aud_locations": axis(locations),
        "aud_languages": language_axis(languages),
    }


@pytest.mark.parametrize(("axes", "viewer", "expected"), TABLE)
def test_contents_feed_and_its_query_by_id_follow_the_rule(
    axes: tuple[list[str], list[str], list[str]], viewer: Viewer, expected: bool
) -> None:
    doc = _stored(axes)
    assert feed.Entry.of(doc).audience.admits(viewer) is expected
    # The stored-axis query: each axis is a `$in` of what the viewer matches.
    query = visibility(viewer, datetime.now(UTC))
    found = all(
        set(doc[name]) & set(query[name]["$in"])
        for name in ("aud_groups", "aud_locations", "aud_languages")
    )
    assert found is expected
