"""A network's wordings by variant index: the suggested text first, then its variants."""

from __future__ import annotations

from contracts import ContentPublishedData, Network
from contracts.texts import variants


def test_the_suggested_text_is_variant_zero() -> None:
    suggested = {"linkedin": "One", "x": "Short"}
    more = {"linkedin": ["Two", "", "Three"]}
    assert variants(suggested, more, Network.LINKEDIN) == ["One", "Two", "Three"]
    assert variants(suggested, more, Network.X) == ["Short"]
    assert variants(suggested, more, Network.FACEBOOK) == []


def test_variants_without_a_suggested_text_are_none() -> None:
    assert variants({}, {"linkedin": ["Two"]}, Network.LINKEDIN) == []


def test_an_event_without_variants_is_still_valid() -> None:
    data = ContentPublishedData.model_validate(
        {
            "content_id": "c1",
            "title": "T",
            "kind": "article",
            "suggested_texts": {"linkedin": "One"},
            "publish_at": "2026-01-01T00:00:00Z",
            "published_by": "e1",
        }
    )
    assert data.text_variants == {}
